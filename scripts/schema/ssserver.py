"""Serve the Storage Service on 127.0.0.1:PORT, as its WSGI entry point does.

    python3 ssserver.py PORT READYFILE

Importing storage_service.wsgi runs the service's startup (common/startup.py:
the default space and locations, then the async manager), exactly as gunicorn
does in production. READYFILE gets this process's id once it listens.
"""

import os
import sys
from wsgiref.simple_server import WSGIRequestHandler
from wsgiref.simple_server import make_server

port, ready = int(sys.argv[1]), sys.argv[2]
sys.path.insert(0, "/src/storage-service/storage_service")

from storage_service.wsgi import application  # noqa: E402


class Handler(WSGIRequestHandler):
    def log_message(self, format, *args):
        sys.stderr.write("storage service: %s\n" % (format % args))


httpd = make_server("127.0.0.1", port, application, handler_class=Handler)
with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.replace(ready + ".tmp", ready)
httpd.serve_forever()
