"""Describe a database in terms that MariaDB and MySQL report alike.

    python3 summary.py DB > summary.txt

Connection settings come from MYSQL_HOST, MYSQL_PORT, MYSQL_USER and
MYSQL_PASSWORD (MYSQL_HOST=localhost means the server's socket). Prints, per
table: its columns (type without integer display widths, nullability,
default, auto_increment, whether the collation is the database's), indexes,
foreign keys, check clauses, and the row count with a hash of every row. Two
servers that hold the same schema and rows print the same text.
"""

import hashlib
import io
import re
import sys

from dump import connect
from dump import dump_rows
from dump import tables
from dump import txt

WIDTH = re.compile(r"\b(tinyint|smallint|mediumint|int|bigint)\((\d+)\)")


def q(cur, sql, *args):
    cur.execute(sql, args)
    return [tuple(txt(v) for v in row) for row in cur.fetchall()]


def main():
    db = sys.argv[1]
    conn = connect(db)
    cur = conn.cursor()
    mariadb = "mariadb" in q(cur, "SELECT VERSION()")[0][0].lower()
    (db_collation,) = q(
        cur,
        "SELECT default_collation_name FROM information_schema.schemata WHERE schema_name = %s",
        db,
    )[0]
    cur.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND (data_type LIKE '%%blob' OR data_type LIKE '%%binary')",
        (db,),
    )
    binary = {(txt(t), txt(c)) for t, c in cur.fetchall()}
    out = []
    for t in tables(cur, db):
        out.append(f"TABLE {t}")
        for name, ctype, nullable, default, extra, collation in q(
            cur,
            "SELECT column_name, column_type, is_nullable, column_default, extra, collation_name "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position",
            db,
            t,
        ):
            ctype = WIDTH.sub(lambda m: m[0] if m[0] == "tinyint(1)" else m[1], ctype)
            if default == "NULL":  # MariaDB spells "no default" this way
                default = None
            coll = "" if collation is None else (" collation=db" if collation == db_collation else f" collation={collation}")
            extra = " ".join(w for w in extra.split() if w == "auto_increment")
            out.append(" ".join(filter(None, [f"  column {name} {ctype} null={nullable} default={default!r}", extra, coll.strip()])))
        idx = {}
        for name, non_unique, seq, col, sub in q(
            cur,
            "SELECT index_name, non_unique, seq_in_index, column_name, sub_part "
            "FROM information_schema.statistics WHERE table_schema = %s AND table_name = %s",
            db,
            t,
        ):
            idx.setdefault((name, non_unique), []).append((int(seq), col + (f"({sub})" if sub else "")))
        for (name, non_unique), cols in sorted(idx.items()):
            kind = "unique" if str(non_unique) == "0" else "index"
            out.append(f"  {kind} {name} ({', '.join(c for _, c in sorted(cols))})")
        fks = {}
        for name, col, rt, rc, pos in q(
            cur,
            "SELECT constraint_name, column_name, referenced_table_name, referenced_column_name, "
            "ordinal_position FROM information_schema.key_column_usage "
            "WHERE table_schema = %s AND table_name = %s AND referenced_table_name IS NOT NULL",
            db,
            t,
        ):
            fks.setdefault((name, rt), []).append((int(pos), col, rc))
        for (name, rt), cols in sorted(fks.items()):
            cols.sort()
            out.append(
                f"  foreign key {name} ({', '.join(c for _, c, _ in cols)}) -> {rt} ({', '.join(r for _, _, r in cols)})"
            )
        if mariadb:  # check names are per table there, and the view says which
            checks = q(
                cur,
                "SELECT check_clause FROM information_schema.check_constraints "
                "WHERE constraint_schema = %s AND table_name = %s",
                db,
                t,
            )
        else:  # names are per schema; the table is in table_constraints
            checks = q(
                cur,
                "SELECT cc.check_clause FROM information_schema.table_constraints tc "
                "JOIN information_schema.check_constraints cc "
                "ON cc.constraint_schema = tc.constraint_schema AND cc.constraint_name = tc.constraint_name "
                "WHERE tc.table_schema = %s AND tc.table_name = %s AND tc.constraint_type = 'CHECK'",
                db,
                t,
            )
        for (clause,) in sorted(checks):
            clause = clause.strip()
            while clause.startswith("(") and clause.endswith(")"):
                clause = clause[1:-1].strip()
            out.append(f"  check {clause}")
        buf = io.StringIO()
        n = dump_rows(cur, db, t, lambda table, col, v: txt(v), binary, buf)
        out.append(f"  rows {n} sha256 {hashlib.sha256(buf.getvalue().encode()).hexdigest()[:16]}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
