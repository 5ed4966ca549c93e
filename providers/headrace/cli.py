"""The ``headrace`` command: ``headrace executor`` and ``headrace sidecar``.

Deliberately free of Airflow imports, so that an executor or sidecar host needs only this package's
pure Python parts (plus ``requests`` for the executor, ``httpx`` and ``prometheus_client`` for the
sidecar).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def _size(text: str) -> int:
    """Bytes, with an optional K/M/G suffix (binary units)."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = text.strip().upper().removesuffix("B")
    factor = units.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in units else text) * factor)


def _add_executor(subparsers: argparse._SubParsersAction) -> None:
    from headrace.jobs.execution import DEFAULT_ALLOWED_PREFIXES

    p = subparsers.add_parser(
        "executor",
        help="claim jobs from the Headrace API and run their binaries",
        description="Claim jobs from the Headrace job queue over HTTP and run them. "
        "Stops claiming on SIGTERM, lets running jobs finish within --grace-period, fails the rest.",
    )
    p.add_argument(
        "--api-url",
        required=True,
        help="Headrace API base, e.g. http://airflow:8080/pluginsv2/headrace/api/v1",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("HEADRACE_API_KEY"),
        help="API key with the 'executor' scope (default: $HEADRACE_API_KEY; prefer the variable, "
        "arguments are visible to other users of the host)",
    )
    p.add_argument("--executor-id", help="name reported to the queue (default: <hostname>-<random>)")
    p.add_argument("--concurrency", type=int, default=1, help="jobs run at the same time (default: 1)")
    p.add_argument("--types", default="", help="comma-separated job types to claim (default: any)")
    p.add_argument(
        "--allow-url-prefix",
        action="append",
        dest="allow_url_prefixes",
        metavar="PREFIX",
        help="binary URLs (and every redirect) must start with one of these; repeatable "
        f"(default: {' '.join(DEFAULT_ALLOWED_PREFIXES)})",
    )
    p.add_argument(
        "--job-timeout", type=_positive_float, default=3600.0, help="seconds per job (default: 3600)"
    )
    p.add_argument(
        "--grace-period",
        type=float,
        default=30.0,
        help="seconds running jobs get after SIGTERM (default: 30)",
    )
    p.add_argument(
        "--poll-wait", type=float, default=20.0, help="long-poll seconds per claim, <= 30 (default: 20)"
    )
    p.add_argument(
        "--max-binary-size", type=_size, default="256M", help="largest binary download (default: 256M)"
    )
    p.add_argument(
        "--cache-dir", type=Path, help="verified binaries by sha256 (default: ~/.cache/headrace/binaries)"
    )
    p.add_argument(
        "--heartbeat-interval",
        type=_positive_float,
        help="seconds between heartbeats (default: 20, a third of the default [headrace] "
        "job_heartbeat_timeout; keep it well below the server's value)",
    )
    p.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    p.add_argument("--metrics-addr", default="0.0.0.0", help="address of /metrics (default: 0.0.0.0)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=_run_executor, subparser=p)


def _run_executor(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from headrace.jobs.executor import Executor, ExecutorConfig, default_executor_id

    if not args.api_key:
        parser.error("an API key is needed: --api-key or HEADRACE_API_KEY")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if not 0 < args.poll_wait <= 30:
        parser.error("--poll-wait must be in (0, 30]")
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    extra = {"cache_dir": args.cache_dir} if args.cache_dir else {}
    config = ExecutorConfig(
        api_url=args.api_url,
        api_key=args.api_key,
        executor_id=args.executor_id or default_executor_id(),
        concurrency=args.concurrency,
        types=tuple(t.strip() for t in args.types.split(",") if t.strip()),
        allowed_prefixes=tuple(args.allow_url_prefixes or ()) or ExecutorConfig.allowed_prefixes,
        job_timeout=args.job_timeout,
        grace_period=args.grace_period,
        poll_wait=args.poll_wait,
        max_binary_bytes=args.max_binary_size,
        heartbeat_interval=args.heartbeat_interval,
        metrics_port=args.metrics_port,
        metrics_addr=args.metrics_addr,
        **extra,
    )
    return Executor(config).run()


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _add_sidecar(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sidecar",
        help="accept monitoring events next to an app and forward them, spooling while needed",
        description="Serve the Sidecar Agent API (POST /v1/ingest/events[:batch], GET /v1/healthz, "
        "GET /metrics), forward events to the job-monitoring API and keep them in an fsync'd disk "
        "spool while it is unavailable; replayed in order once it answers. Exits on SIGTERM.",
    )
    p.add_argument(
        "--listen", type=_host_port, default="127.0.0.1:8000", help="HOST:PORT (default: 127.0.0.1:8000)"
    )
    p.add_argument(
        "--upstream",
        required=True,
        help="job-monitoring base, e.g. http://airflow:8080/pluginsv2/headrace/job-monitoring",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("HEADRACE_API_KEY"),
        help="API key with the 'events' scope (default: $HEADRACE_API_KEY; prefer the variable, "
        "arguments are visible to other users of the host)",
    )
    p.add_argument("--spool-dir", type=Path, required=True, help="directory of the disk spool")
    p.add_argument(
        "--max-spool-mb", type=_positive_float, default=512.0, help="spool bound; full -> 503 (default: 512)"
    )
    p.add_argument(
        "--max-body-mb", type=_positive_float, default=10.0, help="largest request body (default: 10)"
    )
    p.add_argument(
        "--upstream-timeout",
        type=_positive_float,
        default=10.0,
        help="seconds per upstream call (default: 10)",
    )
    p.add_argument(
        "--backoff-max",
        type=_positive_float,
        default=30.0,
        help="longest replay backoff, seconds (default: 30)",
    )
    p.add_argument("--dead-letter-file", type=Path, help="default: <spool-dir>/dead-letter.jsonl")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=_run_sidecar, subparser=p)


def _run_sidecar(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from headrace.events.sidecar import SidecarConfig, run

    if not args.api_key:
        parser.error("an API key is needed: --api-key or HEADRACE_API_KEY")
    if not args.upstream.startswith(("http://", "https://")):
        parser.error("--upstream must be an http:// or https:// URL")
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    config = SidecarConfig(
        listen=args.listen,
        upstream=args.upstream,
        api_key=args.api_key,
        spool_dir=args.spool_dir,
        max_spool_bytes=int(args.max_spool_mb * 1024**2),
        max_body_bytes=int(args.max_body_mb * 1024**2),
        timeout=args.upstream_timeout,
        backoff_max=args.backoff_max,
        dead_letter_file=args.dead_letter_file,
    )
    return run(config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headrace", description="Headrace command-line tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_executor(subparsers)
    _add_sidecar(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args, args.subparser)


if __name__ == "__main__":
    sys.exit(main())
