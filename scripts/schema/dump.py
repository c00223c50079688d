"""Dump a migrated database as portable SQL (MariaDB 10.11 and MySQL 8.0/9.x).

    python3 dump.py --db MCP --out MCP.sql --header "..." \
        --normalize-after 2026-01-01T00:00:00 --normalize-to "2024-10-29 12:00:00"

Reads connection settings from MYSQL_HOST, MYSQL_PORT, MYSQL_USER and
MYSQL_PASSWORD. Writes:

* the SQL file: SET FOREIGN_KEY_CHECKS=0, one CREATE TABLE per table (sorted
  by name) rewritten from SHOW CREATE TABLE without anything one server
  flavour would reject or read differently, then every table's rows ordered by
  primary key in multi-row INSERTs, then SET FOREIGN_KEY_CHECKS=1;
* with --counts, a TSV line per table: database, table, rows;
* with --migrations, a line per django_migrations row: database, app, name.

Timestamps written while the migrations ran (values at or after
--normalize-after) become --normalize-to, so that a rerun gives the same file.
"""

import argparse
import datetime
import os
import re
import sys

import MySQLdb
from MySQLdb.constants import FIELD_TYPE

BATCH_ROWS = 250
BATCH_BYTES = 256 * 1024

NUMERIC = {
    FIELD_TYPE.DECIMAL,
    FIELD_TYPE.NEWDECIMAL,
    FIELD_TYPE.TINY,
    FIELD_TYPE.SHORT,
    FIELD_TYPE.LONG,
    FIELD_TYPE.FLOAT,
    FIELD_TYPE.DOUBLE,
    FIELD_TYPE.LONGLONG,
    FIELD_TYPE.INT24,
    FIELD_TYPE.YEAR,
}
TEMPORAL = {
    FIELD_TYPE.DATETIME,
    FIELD_TYPE.TIMESTAMP,
    FIELD_TYPE.DATE,
}

# Integer display widths are MariaDB's SHOW CREATE TABLE style; MySQL 8.0.17+
# deprecates them (warning 1681) and prints none. Django's own DDL has none.
# tinyint(1) is how both print Django's "bool"; MySQL 9 warns about the width
# there too, so it is written "bool", as Django writes it (MariaDB and MySQL
# both store that as tinyint(1)).
INT_WIDTH = re.compile(r"\b(tinyint|smallint|mediumint|int|bigint)\(\d+\)")
BOOL = re.compile(r"\btinyint\(1\)")
# MariaDB stores Django's JSONField ("json") as longtext utf8mb4_bin with a
# json_valid() CHECK; "json" is the portable spelling (MariaDB maps it back).
JSON_COLUMN = re.compile(
    r"^(\s*`(?P<col>[^`]+)`) longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    r"(?P<rest>.*?) CHECK \(json_valid\(`(?P=col)`\)\)(?P<end>,?)$"
)


def txt(v):
    return v.decode() if isinstance(v, bytes) else v


def connect(db):
    return MySQLdb.connect(
        host=os.environ["MYSQL_HOST"],
        port=int(os.environ["MYSQL_PORT"]),
        user=os.environ["MYSQL_USER"],
        passwd=os.environ["MYSQL_PASSWORD"],
        db=db,
        charset="utf8mb4",
        use_unicode=True,
        conv={},  # every value as the server's text (bytes), formatted here
    )


def tables(cur, db):
    cur.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = %s",
        (db,),
    )
    rows = [(txt(n), txt(t)) for n, t in cur.fetchall()]
    others = [n for n, t in rows if t != "BASE TABLE"]
    if others:
        sys.exit(f"{db}: not a base table (views are not supported): {others}")
    return sorted(n for n, _ in rows)


def portable_ddl(ddl, notes):
    """SHOW CREATE TABLE (MariaDB) to DDL both flavours read the same way."""
    ddl = re.sub(r"/\*!\d*\s*(.*?)\s*\*/", r"\1", ddl, flags=re.S)
    lines = ddl.split("\n")
    head, body, tail = lines[0], lines[1:-1], lines[-1]
    if not (head.startswith("CREATE TABLE `") and tail.startswith(")")):
        raise ValueError(f"unexpected SHOW CREATE TABLE output: {ddl[:200]}")
    # Table options (ENGINE, AUTO_INCREMENT, DEFAULT CHARSET, COLLATE...) go:
    # tables inherit the database's character set and collation.
    tail = ")"
    columns, keys = [], []
    for line in body:
        line = line.rstrip(",")
        stripped = line.strip()
        if stripped.startswith("`"):
            m = JSON_COLUMN.match(line)
            if m:
                line = f"{m.group(1)} json{m['rest']}"
                notes.append("json")
            line = BOOL.sub("bool", line)
            line = INT_WIDTH.sub(r"\1", line)
            line = line.replace("current_timestamp()", "CURRENT_TIMESTAMP")
            if " CHARACTER SET " in line or " COLLATE " in line:
                raise ValueError(f"column with its own charset/collation: {line}")
            columns.append(line)
        elif stripped.startswith("PRIMARY KEY"):
            columns.append(line)  # first after the columns, as MariaDB prints
        else:
            if re.search(r"CHECK \(json_valid", stripped):
                raise ValueError(f"json_valid check outside a json column: {line}")
            keys.append(line)
    # Index and constraint order can change from run to run (index_together
    # is a set in Django): sort by kind then name.
    order = {"UNIQUE KEY": 0, "KEY": 1, "FULLTEXT KEY": 2, "CONSTRAINT": 3}

    def key_order(line):
        s = line.strip()
        kind = next((k for k in order if s.startswith(k + " ")), None)
        if kind is None:
            raise ValueError(f"unexpected line in SHOW CREATE TABLE: {line}")
        if kind == "CONSTRAINT" and " CHECK " in s:
            return (4, s)
        return (order[kind], s)

    keys.sort(key=key_order)
    return head + "\n" + ",\n".join(columns + keys) + "\n" + tail


def escape(text):
    out = []
    for ch in txt(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\0":
            out.append("\\0")
        elif ch == "\x1a":
            out.append("\\Z")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


class Normalizer:
    def __init__(self, after, to):
        self.after = after
        self.to = to
        self.count = {}

    def __call__(self, table, column, value):
        text = txt(value)
        try:
            when = datetime.datetime.fromisoformat(text)
        except ValueError:
            return text
        if self.after is not None and when >= self.after:
            self.count[(table, column)] = self.count.get((table, column), 0) + 1
            frac = text.partition(".")[2]
            if len(text) == 10:  # a DATE column
                return self.to[:10]
            return self.to + ("." + "0" * len(frac) if frac else "")
        return text


def primary_key(cur, db, table):
    cur.execute(
        "SELECT column_name FROM information_schema.key_column_usage "
        "WHERE table_schema = %s AND table_name = %s AND constraint_name = 'PRIMARY' "
        "ORDER BY ordinal_position",
        (db, table),
    )
    return [txt(r[0]) for r in cur.fetchall()]


def dump_rows(cur, db, table, normalize, binary, out):
    pk = primary_key(cur, db, table)
    if not pk:
        sys.exit(f"{db}.{table}: no primary key, rows would have no stable order")
    order = ", ".join(f"`{c}`" for c in pk)
    cur.execute(f"SELECT * FROM `{table}` ORDER BY {order}")
    desc = cur.description
    names = [d[0] for d in desc]
    types = [d[1] for d in desc]
    rows = cur.fetchall()
    if not rows:
        return 0
    prefix = f"INSERT INTO `{table}` ({', '.join(f'`{n}`' for n in names)}) VALUES\n"
    batch, size = [], 0

    def flush():
        out.write(prefix + ",\n".join(batch) + ";\n")

    for row in rows:
        vals = []
        for name, typ, v in zip(names, types, row):
            if v is None:
                vals.append("NULL")
            elif typ in NUMERIC:
                vals.append(txt(v))
            elif typ in TEMPORAL:
                vals.append("'" + normalize(table, name, v) + "'")
            elif (table, name) in binary:
                raw = v if isinstance(v, bytes) else v.encode("utf-8")
                vals.append("X'" + raw.hex().upper() + "'")
            elif typ == FIELD_TYPE.BIT:
                raw = v if isinstance(v, bytes) else v.encode("latin-1")
                vals.append("b'" + "".join(f"{x:08b}" for x in raw) + "'")
            else:
                vals.append(escape(v))
        line = "(" + ",".join(vals) + ")"
        if batch and (len(batch) >= BATCH_ROWS or size + len(line) > BATCH_BYTES):
            flush()
            batch, size = [], 0
        batch.append(line)
        size += len(line)
    flush()
    return len(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--header", help="comment lines, \\n-separated")
    ap.add_argument("--header-from", help="take the header of this SQL file")
    ap.add_argument("--normalize-after", help="ISO datetime (UTC, naive)")
    ap.add_argument("--normalize-to", help="'YYYY-MM-DD HH:MM:SS'")
    ap.add_argument("--counts", help="append table row counts (TSV) here")
    ap.add_argument("--migrations", help="append django_migrations here")
    args = ap.parse_args()

    after = (
        datetime.datetime.fromisoformat(args.normalize_after)
        if args.normalize_after
        else None
    )
    normalize = Normalizer(after, args.normalize_to)
    conn = connect(args.db)
    cur = conn.cursor()
    # Binary columns (BinaryField) get hex literals.
    cur.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND (data_type IN ('binary','varbinary','blob',"
        "'tinyblob','mediumblob','longblob') OR character_set_name = 'binary')",
        (args.db,),
    )
    binary = {(txt(t), txt(c)) for t, c in cur.fetchall()}

    names = tables(cur, args.db)
    counts = {}
    notes = []
    with open(args.out + ".tmp", "w", encoding="utf-8", newline="\n") as out:
        if args.header_from:
            with open(args.header_from, encoding="utf-8") as f:
                for line in f:
                    if not line.startswith("--"):
                        break
                    out.write(line)
        else:
            for line in args.header.split("\\n"):
                out.write(("-- " + line).rstrip() + "\n")
        out.write("\nSET NAMES utf8mb4;\nSET FOREIGN_KEY_CHECKS=0;\n")
        for t in names:
            cur.execute(f"SHOW CREATE TABLE `{t}`")
            ddl = txt(cur.fetchone()[1])
            out.write("\n" + portable_ddl(ddl, notes) + ";\n")
        for t in names:
            out.write("\n")
            counts[t] = dump_rows(cur, args.db, t, normalize, binary, out)
        out.write("\nSET FOREIGN_KEY_CHECKS=1;\n")
    os.replace(args.out + ".tmp", args.out)

    if args.counts:
        with open(args.counts, "a") as f:
            for t in names:
                f.write(f"{args.db}\t{t}\t{counts[t]}\n")
    if args.migrations:
        cur.execute("SELECT app, name FROM django_migrations ORDER BY id")
        with open(args.migrations, "a") as f:
            for app, name in cur.fetchall():
                f.write(f"{args.db}\t{txt(app)}\t{txt(name)}\n")
    rows = sum(counts.values())
    filled = sum(1 for n in counts.values() if n)
    print(
        f"{args.db}: {len(names)} tables, {rows} rows in {filled} tables"
        + (f", {notes.count('json')} json columns" if notes else "")
    )
    for (t, c), n in sorted(normalize.count.items()):
        print(f"{args.db}: {n} value(s) of {t}.{c} written during the run -> {args.normalize_to}")


if __name__ == "__main__":
    main()
