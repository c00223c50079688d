"""An integration test in Python, run against a throw-away stack:

    devstack run -- python3 -m unittest examples/python/test_stack.py

`devstack run` starts an isolated stack, exports its connection settings
(MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, REDIS_URL, ...) to the
command, and removes the stack afterwards whatever happens. With pytest
installed, `devstack run -- pytest examples/python` runs the same tests.
"""
import os
import unittest

import MySQLdb
import redis


class StackTest(unittest.TestCase):
    def setUp(self):
        self.db = MySQLdb.connect(
            host=os.environ["MYSQL_HOST"],
            port=int(os.environ["MYSQL_PORT"]),
            user=os.environ["MYSQL_USER"],
            password=os.environ["MYSQL_PASSWORD"],
            database=os.environ["ARCHIVEMATICA_DASHBOARD_CLIENT_DATABASE"],
        )
        self.addCleanup(self.db.close)

    def test_admin_is_seeded(self):
        cur = self.db.cursor()
        cur.execute("SELECT username, is_superuser FROM auth_user")
        self.assertEqual(cur.fetchall(), (("admin", 1),))

    def test_storage_service_settings(self):
        cur = self.db.cursor()
        cur.execute("SELECT value FROM DashboardSettings WHERE name = 'storage_service_apikey'")
        self.assertEqual(cur.fetchone(), ("devstack-storage-admin-api-key",))

    def test_redis(self):
        r = redis.Redis.from_url(os.environ["REDIS_URL"])
        r.set("example", "1")
        self.assertEqual(r.get("example"), b"1")


if __name__ == "__main__":
    unittest.main()
