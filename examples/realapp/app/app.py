"""The realapp: each visit is counted in postgres and in redis; nginx sits in front."""
import os
import socket

import psycopg2
import redis
from flask import Flask, jsonify

app = Flask(__name__)
with open("/run/secrets/flask_secret") as f:
    app.secret_key = f.read().strip()
cache = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), socket_connect_timeout=2, socket_timeout=2)


def db_password() -> str:
    with open("/run/secrets/db_password") as f:
        return f.read().strip()


@app.get("/")
def visit():
    conn = psycopg2.connect(host=os.environ.get("DB_HOST", "db"), user="postgres", dbname="postgres",
                            password=db_password(), connect_timeout=2)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS visits (n serial PRIMARY KEY, at timestamptz DEFAULT now())")
            cur.execute("INSERT INTO visits DEFAULT VALUES RETURNING n")
            db_visits = cur.fetchone()[0]
    finally:
        conn.close()
    return jsonify(db_visits=db_visits, redis_hits=cache.incr("hits"), served_by=socket.gethostname())


@app.get("/healthz")
def healthz():
    return "ok\n"


if __name__ == "__main__":
    print(f"app starting as uid {os.getuid()}", flush=True)
    app.run(host="0.0.0.0", port=8000, threaded=True)
