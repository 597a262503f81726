"""Serves a directory over HTTP on 127.0.0.1 (a free port), for the installer
checks. Prints the base URL on its first line, then serves until killed.

usage: python3 serve-dir.py DIR
"""
import functools
import http.server
import sys

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
