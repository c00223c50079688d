"""Snapshot databases and report the rows a bootstrap step adds or changes.

    python3 reference.py snapshot DB FILE
    python3 reference.py report --out FILE --labels FILE --now-after ISO \
        --title TEXT --intro TEXT \
        --section "HEADING|DB|BEFORE|AFTER" [--section ...]

Connection settings come from MYSQL_HOST, MYSQL_PORT, MYSQL_USER and
MYSQL_PASSWORD (as for dump.py).

The report lists, per section and table (sorted), the rows added (every
column), the rows deleted and the columns changed. Values that differ on every
run are replaced by placeholders, so that reruns give the same file:

* {now}: a date-time written during the run (at or after --now-after);
* {uuid-N}: a UUID that appears nowhere in the section's "before" snapshot
  (so one the step generated); the same UUID gets the same label everywhere,
  across sections and files (the label map is kept in --labels), which shows
  where a generated value is copied to;
* {pbkdf2_sha256(password), N iterations, random salt}: a Django password
  hash;
* --replace OLD=NEW rewrites a literal part of values (for a URL with a port
  chosen at run time).
"""

import argparse
import datetime
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dump import connect  # noqa: E402
from dump import primary_key  # noqa: E402
from dump import tables  # noqa: E402
from dump import txt  # noqa: E402

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$")


def snapshot(db, path):
    conn = connect(db)
    cur = conn.cursor()
    data = {}
    for t in tables(cur, db):
        pk = primary_key(cur, db, t)
        cur.execute(f"SELECT * FROM `{t}`")
        names = [d[0] for d in cur.description]
        rows = {}
        for row in cur.fetchall():
            values = {
                n: (None if v is None else (v.hex() if isinstance(v, bytes) and not _is_text(v) else txt(v)))
                for n, v in zip(names, row)
            }
            key = json.dumps([values[c] for c in pk])
            rows[key] = values
        data[t] = {"columns": names, "pk": pk, "rows": rows}
    with open(path, "w") as f:
        json.dump(data, f, sort_keys=True)


def _is_text(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


class Redactor:
    def __init__(self, labels_path, now_after, replace=()):
        self.replace = [r.split("=", 1) for r in replace]
        self.labels_path = labels_path
        self.labels = {}
        if labels_path and os.path.exists(labels_path):
            with open(labels_path) as f:
                self.labels = json.load(f)
        self.now_after = now_after
        self.known = set()

    def learn(self, snap):
        for t in snap.values():
            for row in t["rows"].values():
                for v in row.values():
                    if v:
                        self.known.update(u.lower() for u in UUID.findall(v))

    def value(self, v):
        if v is None:
            return "NULL"
        for old, new in self.replace:
            v = v.replace(old, new)
        if DATETIME.match(v):
            when = datetime.datetime.fromisoformat(v.replace("T", " "))
            if when >= self.now_after:
                return "{now}"
        m = re.match(r"^pbkdf2_sha256\$(\d+)\$", v)
        if m:
            return "{pbkdf2_sha256(password), %s iterations, random salt}" % m[1]

        def label(m):
            u = m[0].lower()
            if u in self.labels:
                return self.labels[u]
            if u in self.known:
                return m[0]
            if u not in self.labels:
                self.labels[u] = "{uuid-%d}" % (len(self.labels) + 1)
            return self.labels[u]

        v = UUID.sub(label, v)
        return repr(v)

    def save(self):
        if self.labels_path:
            with open(self.labels_path, "w") as f:
                json.dump(self.labels, f, indent=1, sort_keys=True)


def report(args):
    now_after = datetime.datetime.fromisoformat(args.now_after)
    red = Redactor(args.labels, now_after, args.replace)
    out = []
    out.append(f"# {args.title}")
    out.append("")
    for line in args.intro.split("\\n"):
        out.append(line)
    out.append("")
    for spec in args.section:
        heading, db, before_path, after_path = spec.split("|")
        with open(before_path) as f:
            before = json.load(f)
        with open(after_path) as f:
            after = json.load(f)
        red.known = set()
        red.learn(before)
        out.append(f"## {heading}")
        out.append("")
        changed_any = False
        for t in sorted(set(before) | set(after)):
            b = before.get(t, {"rows": {}, "columns": [], "pk": []})
            a = after.get(t, {"rows": {}, "columns": [], "pk": []})
            cols = a["columns"] or b["columns"]
            lines = []

            def keyorder(k):
                return [(0, int(x)) if str(x).isdigit() else (1, str(x)) for x in json.loads(k)]

            added = sorted(set(a["rows"]) - set(b["rows"]), key=keyorder)
            deleted = sorted(set(b["rows"]) - set(a["rows"]), key=keyorder)
            common = sorted(set(a["rows"]) & set(b["rows"]), key=keyorder)
            for k in added:
                row = a["rows"][k]
                lines.append("  + " + ", ".join(f"{c}={red.value(row[c])}" for c in cols))
            for k in common:
                ra, rb = a["rows"][k], b["rows"][k]
                diff = [c for c in cols if ra.get(c) != rb.get(c)]
                if diff:
                    pk = ", ".join(f"{c}={red.value(ra[c])}" for c in a["pk"])
                    changes = ", ".join(
                        f"{c}: {red.value(rb.get(c))} -> {red.value(ra.get(c))}" for c in diff
                    )
                    lines.append(f"  ~ {pk}: {changes}")
            for k in deleted:
                row = b["rows"][k]
                lines.append("  - " + ", ".join(f"{c}={red.value(row[c])}" for c in cols))
            if lines:
                changed_any = True
                out.append(
                    f"{db}.{t}: {len(added)} added, {sum(1 for l in lines if l.startswith('  ~'))} changed, {len(deleted)} deleted"
                )
                out.extend(lines)
                out.append("")
        if not changed_any:
            out.append("(no change)")
            out.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")
    red.save()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("db")
    s.add_argument("file")
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    r.add_argument("--labels")
    r.add_argument("--now-after", required=True)
    r.add_argument("--title", required=True)
    r.add_argument("--intro", default="")
    r.add_argument("--section", action="append", required=True)
    r.add_argument("--replace", action="append", default=[], help="OLD=NEW in values")
    args = ap.parse_args()
    if args.cmd == "snapshot":
        snapshot(args.db, args.file)
    else:
        report(args)


if __name__ == "__main__":
    main()
