"""`make bench`: the app under gunicorn (2 workers) over HTTP, against a floor measured in the same run.

For SQLite (always, on a file of its own) and PostgreSQL (when DATABASE_URL names a server: a scratch database
is made there and dropped after), it loads the data set of the speed issue (20 practitioners x 30 appointments on
the measured day, 8,400 appointments, 50,000 clients), logs in as the front desk and measures:
throughput (requests/s with 4 concurrent connections) and one request on its own (median of sequential requests)
for the floor (bench/urls.py), the diary day, week, the appointment panel and client search; booking throughput
with 8 concurrent clients (and that 8 clients racing for the same slots book each slot once); then the day at 80
practitioners; and the client search selector on its own, in-process, for a few kinds of query (a typo too on
PostgreSQL). Queries are counted in-process (bench/dataset.py). Prints a table and writes bench/results.md.

    python bench/run.py [--quick]
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
GOALS = ("Goals (speed issue): diary day >= 2.0x the floor's requests/s, <= 10 queries; 80 practitioners <= 30 ms; "
         "page <= 150 KB; week and panel <= 10 ms; client search <= 10 ms (PostgreSQL) / <= 30 ms (SQLite); "
         "booking >= 150/s on PostgreSQL with 8 clients, no double booking, no 500.")


# HTTP ------------------------------------------------------------------------------------------------------------

def fetch(port: int, method: str, path: str, cookie: str = "", body: dict | None = None, hx: bool = False):
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    headers = {"Cookie": cookie} if cookie else {}
    if hx:  # what htmx sends for the side panel (practice.http.is_panel_request)
        headers["HX-Request"] = "true"
        headers["HX-Target"] = "panel"
    data = None
    if body is not None:
        data = urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Origin"] = f"http://{HOST}:{port}"
    started = time.perf_counter()
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    return response.status, response.getheader("Set-Cookie", ""), payload, elapsed


def login(port: int, password: str) -> str:
    _, set_cookie, page, _ = fetch(port, "GET", "/accounts/login/")
    csrf = re.search(r"csrftoken=([^;]+)", set_cookie).group(1)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    status, set_cookie, _, _ = fetch(port, "POST", "/accounts/login/", f"csrftoken={csrf}",
                                     {"csrfmiddlewaretoken": token, "username": "desk", "password": password})
    assert status == 302, f"login failed: {status}"
    session = re.search(r"sessionid=([^;]+)", set_cookie).group(1)
    return f"csrftoken={csrf}; sessionid={session}"


def csrf_of(cookie: str) -> str:
    return re.search(r"csrftoken=([^;]+)", cookie).group(1)


class Page:
    def __init__(self, name: str, method: str, path: str, cookie: str, hx: bool = False, body: dict | None = None):
        self.name, self.method, self.path, self.cookie, self.hx, self.body = name, method, path, cookie, hx, body

    def hit(self, port: int):
        body = None if self.body is None else {**self.body, "csrfmiddlewaretoken": csrf_of(self.cookie)}
        return fetch(port, self.method, self.path, self.cookie, body, self.hx)


def _hammer(port: int, page: Page, until: float, results) -> None:
    done = errors = 0
    while time.perf_counter() < until:
        status = page.hit(port)[0]
        done += 1
        errors += status != 200
    results.put((done, errors))


def throughput(port: int, page: Page, seconds: float, concurrency: int = 4) -> float:
    results = multiprocessing.Queue()
    until = time.perf_counter() + seconds
    workers = [multiprocessing.Process(target=_hammer, args=(port, page, until, results)) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    totals = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    done, errors = sum(t[0] for t in totals), sum(t[1] for t in totals)
    assert errors == 0, f"{page.name}: {errors} of {done} requests did not answer 200"
    return done / seconds


def one_request(port: int, page: Page, runs: int) -> tuple[float, int]:
    for _ in range(3):
        page.hit(port)  # warm up both workers
    timings, size = [], 0
    for _ in range(runs):
        status, _, payload, elapsed = page.hit(port)
        assert status == 200, f"{page.name}: {status}"
        timings.append(elapsed)
        size = len(payload)
    return statistics.median(timings), size


# Booking ---------------------------------------------------------------------------------------------------------

def _booking_form(facts: dict, practitioner: int, day: str, at: str) -> dict:
    return {"client": facts["client"], "client_query": "", "practitioner": practitioner, "location": facts["location"],
            "appointment_type": facts["type"], "date": day, "start_time": at, "duration": 15, "notes": ""}


def _book(port: int, cookie: str, forms: list[dict], until: float, results) -> None:
    booked = refused = errors = 0
    for form in forms:
        if time.perf_counter() > until:
            break
        status = fetch(port, "POST", "/appointments/new/", cookie, {**form, "csrfmiddlewaretoken": csrf_of(cookie)})[0]
        booked += status == 302
        refused += status == 200
        errors += status >= 500
    results.put((booked, refused, errors))


def _run_bookers(port: int, cookies: list[str], plans: list[list[dict]], seconds: float):
    results = multiprocessing.Queue()
    started = time.perf_counter()
    workers = [multiprocessing.Process(target=_book, args=(port, cookie, plan, started + seconds, results))
               for cookie, plan in zip(cookies, plans, strict=False)]
    for worker in workers:
        worker.start()
    totals = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return [sum(t[i] for t in totals) for i in range(3)], min(elapsed, seconds)


def bookings(port: int, facts: dict, cookies: list[str], seconds: float) -> dict:
    slots = [(p, day, f"{8 + q // 4:02d}:{q % 4 * 15:02d}") for day in facts["booking_days"][1:]
             for q in range(36) for p in facts["practitioners"]]
    plans = [[_booking_form(facts, *slot) for slot in slots[n::len(cookies)]] for n in range(len(cookies))]
    (booked, refused, errors), elapsed = _run_bookers(port, cookies, plans, seconds)
    # Eight clients racing for the same five slots: each slot is booked once, the rest are refused.
    day = facts["booking_days"][0]
    race = [_booking_form(facts, facts["practitioner"], day, f"09:{m:02d}") for m in (0, 15, 30, 45)]
    race.append(_booking_form(facts, facts["practitioner"], day, "10:00"))
    (raced, race_refused, race_errors), _ = _run_bookers(port, cookies, [race] * len(cookies), 60)
    return {"per_second": booked / elapsed, "booked": booked, "refused": refused, "errors": errors + race_errors,
            "race_booked": raced, "race_refused": race_refused}


# One database ----------------------------------------------------------------------------------------------------

def dataset(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "bench.dataset", *args], cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench.dataset {args[0]} failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def start_app(env: dict, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "2", "-b", f"{HOST}:{port}",
               "--log-level", "warning"]
    app = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603 - fixed arguments
    for _ in range(100):
        try:
            fetch(port, "GET", "/health/")
            return app
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def stop_app(app: subprocess.Popen) -> None:
    os.killpg(app.pid, signal.SIGTERM)
    app.wait(timeout=30)


def measure(label: str, database_url: str, args) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "bench.settings",
           "DJANGO_DEBUG": "false", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)  # the embedded default: no cache server needed to serve pages
    clients = 5_000 if args.quick else 50_000
    print(f"\n[{label}] loading {clients:,} clients and the appointments...", flush=True)
    facts = json.loads(dataset(env, "seed", str(clients)))
    day, p = facts["day"], facts["practitioner"]
    urls = {"floor": f"GET /bench-floor/?date={day}", "diary day": f"GET /diary/?date={day}",
            "week": f"GET /diary/week/?date={day}&practitioner={p}",
            "panel": f"GET /appointments/{facts['appointment']}/",
            "client search": "POST /clients/quick-search/"}
    query_counts = json.loads(dataset(env, "queries", json.dumps({k: v for k, v in urls.items() if k != "floor"})))
    query_counts["floor"] = 1
    port = 8700 + os.getpid() % 200
    app = start_app(env, port)
    rows = {}
    try:
        cookies = [login(port, facts["password"]) for _ in range(8)]
        seconds, runs = (1.5, 10) if args.quick else (5.0, 30)
        for name, spec in urls.items():
            method, path = spec.split(" ", 1)
            page = Page(name, method, path, "" if name == "floor" else cookies[0], hx=name == "panel",
                        body={"q": "kel"} if method == "POST" else None)
            ms, size = one_request(port, page, runs)
            rows[name] = {"rps": throughput(port, page, seconds), "ms": ms, "queries": query_counts[name],
                          "bytes": size}
            print(f"  {name:<16} {rows[name]['rps']:7.1f} req/s  {ms:6.1f} ms", flush=True)
        booking = bookings(port, facts, cookies, seconds)
        stop_app(app)
        dataset(env, "grow")
        app = start_app(env, port)
        cookie = login(port, facts["password"])
        ms, size = one_request(port, Page("wide", "GET", f"/diary/?date={facts['wide_day']}", cookie), runs)
        rows["diary day, 80 practitioners"] = {"rps": None, "ms": ms, "queries": None, "bytes": size}
    finally:
        stop_app(app)
    doubles = json.loads(dataset(env, "check"))
    search = json.loads(dataset(env, "search", str(runs)))
    return {"label": label, "rows": rows, "booking": booking, "doubles": doubles, "facts": facts, "search": search}


def report(result: dict) -> str:
    rows, floor = result["rows"], result["rows"]["floor"]
    lines = [f"### {result['label']}: {result['facts']['appointments']:,} appointments, "
             f"{result['facts']['clients']:,} clients",
             "", "| page | req/s | × floor | one request | queries | bytes |", "|---|---|---|---|---|---|"]
    for name, row in rows.items():
        rps = f"{row['rps']:.1f}" if row["rps"] else "–"
        ratio = f"{row['rps'] / floor['rps']:.2f}×" if row["rps"] else "–"
        queries = row["queries"] if row["queries"] is not None else "–"
        lines.append(f"| {name} | {rps} | {ratio} | {row['ms']:.1f} ms | {queries} | {row['bytes'] / 1024:.0f} KB |")
    b = result["booking"]
    lines += ["", f"Booking with 8 concurrent clients: **{b['per_second']:.1f} bookings/s** ({b['booked']} booked, "
              f"{b['refused']} refused, {b['errors']} server errors). Eight clients racing for the same 5 slots: "
              f"{b['race_booked']} booked, {b['race_refused']} refused. Overlapping live appointments in the database: "
              f"{len(result['doubles'])}."]
    lines += ["", "Client search, the selector alone (in-process, median): " + " · ".join(
        f"{query!r} {found['ms']:.1f} ms ({found['shown']} {'similar' if found['similar'] else 'shown'})"
        for query, found in result["search"].items()) + "."]
    return "\n".join(lines)


def scratch_postgres(url: str):
    import psycopg

    name = f"bench_{os.getpid()}"
    parts = urlsplit(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), lambda: _drop(url, name)


def _drop(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5,000 clients, short runs")
    args = parser.parse_args()
    results = []
    directory = tempfile.mkdtemp(prefix="bench-")
    try:
        results.append(measure("SQLite", f"sqlite:///{directory}/bench.sqlite3", args))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    server = os.environ.get("DATABASE_URL", "")
    if server.startswith("postgres"):
        url, drop = scratch_postgres(server)
        try:
            results.append(measure("PostgreSQL", url, args))
        finally:
            drop()
    text = "\n\n".join(report(r) for r in results)
    header = (f"# Benchmark{' (quick)' if args.quick else ''}\n\ngunicorn -w 2 over HTTP on this machine "
              f"({os.cpu_count()} cores), front desk logged in; 4 concurrent connections for req/s, the median of "
              f"sequential requests for one request. The floor is bench/urls.py.\n\n{GOALS}\n")
    print("\n" + text)
    if not args.quick:
        (ROOT / "bench" / "results.md").write_text(header + "\n" + text + "\n")
    failures = [r["label"] for r in results if r["booking"]["errors"] or r["doubles"]
                or r["booking"]["race_booked"] != 5]
    if failures:
        sys.exit(f"Booking went wrong on {', '.join(failures)}: server errors or double bookings.")


if __name__ == "__main__":
    main()
