"""A webhook receiver for the tests: verifies each POST's X-Coffer-Signature
(HMAC-SHA256 over "T.BODY" with the secret, Python's own hmac), answers 500
to the first attempt of every delivery and 200 afterwards, and appends what
it got as one JSON line per request to the log file.

usage: webhook_receiver.py PORT SECRET LOGFILE
"""
import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, secret, log_path = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
seen = set()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        header = self.headers.get("X-Coffer-Signature", "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        expected = hmac.new(secret, parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, parts.get("v1", "")) and parts.get("t") == self.headers.get("X-Coffer-Timestamp")
        delivery = self.headers.get("X-Coffer-Delivery", "")
        status = 200 if delivery in seen else 500
        seen.add(delivery)
        if not valid:
            status = 401
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "delivery": delivery, "event": self.headers.get("X-Coffer-Event"),
                                  "signature_valid": valid, "answered": status, "body": json.loads(body)}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("listening", flush=True)
server.serve_forever()
