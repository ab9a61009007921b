"""Run every benchmark and print each ratio (or time) beside its target.

Speed goals live here, not in the unit suite, which asserts behaviour only.

    python -m bench            # the full sizes of the issue (several minutes)
    python -m bench --quick    # a smaller smoke run
    python -m bench --only cost  # only the request-cost rows (2a–2e)
    python -m bench --only user  # only what a user sees (rows 10–13)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
from datetime import UTC, datetime
from typing import Any

from bench import cost, service, syncs
from bench.syncs import Sizes
from psad.connectors.registry import KINDS

PSA_REPEATS = 3
PSA_REPEAT_BUDGET = 30.0
"""Seconds of sync and floor per PSA after which no further repeat is run."""


def cpu_note(result: dict[str, Any], start_up: float) -> str:
    """Who used the CPU: psad in its run (its imports taken off) and the simulator.

    Their sum over the machine's cores is the shortest the sync could take here
    however well the work were spread; as a share of the floor it shows whether
    the target is within reach of psad's CPU cost at all.
    """
    psad = result["full"].cpu_seconds - start_up
    cores = os.cpu_count() or 1
    bound = (psad + result["sim_cpu"]) / cores
    return (f"CPU: psad {psad:.2f} s in its run, simulator {result['sim_cpu']:.2f} s "
            f"({result['floor_sim_cpu']:.2f} s in the floor); both over {cores} cores: "
            f"{bound:.2f} s = {bound / result['floor']:.2f} × floor")


def floor_ratio(result: dict[str, Any]) -> float:
    return float(result["full"].seconds / result["floor"])


async def per_psa(kind: str, sizes: Sizes, latency: float) -> list[dict[str, Any]]:
    """Full sync and floor, repeated while cheap: one run on a shared machine is noisy."""
    results: list[dict[str, Any]] = []
    while len(results) < PSA_REPEATS:
        results.append(await syncs.full_vs_floor(kind, sizes, latency))
        if sum(r["full"].seconds + r["floor"] for r in results) > PSA_REPEAT_BUDGET:
            break
    return sorted(results, key=floor_ratio)


def row(name: str, value: str, target: str, ok: bool | None) -> str:
    mark = "" if ok is None else ("met" if ok else "MISSED")
    return f"| {name} | {value} | {target} | {mark} |"


async def run(args: argparse.Namespace) -> list[str]:
    scale = 10 if args.quick else 1
    big = Sizes(companies=5000 // scale, assets=100_000 // scale, contacts=50_000 // scale)
    small = Sizes(companies=big.companies, assets=big.assets // 10, contacts=big.contacts)
    out = [f"psad benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
           f"{platform.python_version()}, latency {args.latency * 1000:.0f} ms/request, "
           f"sizes {big}", "",
           "| measure | result | target | |", "|---|---|---|---|"]

    if args.only == "cost":
        return out + await request_cost_rows(big, args)
    start_up = sorted([await asyncio.to_thread(syncs.start_up_cpu) for _ in range(3)])[1]
    if args.only == "user":
        return out + await user_rows(args, start_up)
    cw = await syncs.full_vs_floor("connectwise", big, args.latency, incremental_share=0.01)
    full, incr = cw["full"], cw["incremental"]
    ratio = full.seconds / cw["floor"]
    out.append(row("1. ConnectWise full sync / raw-fetch floor",
                   f"{full.seconds:.1f} s / {cw['floor']:.1f} s = {ratio:.3f}", "≤ 1.15",
                   ratio <= 1.15))
    out.append(row("   … where the CPU went", cpu_note(cw, start_up), "", None))
    out.append(row("   requests per entity", ", ".join(f"{k} {v}" for k, v in
                                                       sorted(full.requests.items())),
                   f"{cw['request_count']} in all", None))
    share = incr.seconds / full.seconds
    out.append(row("2. incremental (1 % changed) / full", f"{incr.seconds:.1f} s / "
                   f"{full.seconds:.1f} s = {share:.1%}", "≤ 5 %", share <= 0.05))
    out.append(row("   incremental requests per entity", cost.per_entity(incr),
                   f"{sum(incr.requests.values())} in all", None))
    out += await request_cost_rows(big, args)

    small_run = await syncs.peak_memory("connectwise", small, args.latency / 10)
    mem = full.peak_rss_mib / small_run.peak_rss_mib
    out.append(row(f"3. peak RSS, full sync at {big.assets:,} vs {small.assets:,} assets",
                   f"{full.peak_rss_mib:.0f} MiB / {small_run.peak_rss_mib:.0f} MiB = {mem:.2f}",
                   "≤ 1.1", mem <= 1.1))

    st = await service.store_throughput(rows=big.assets)
    throughput = st["psad_rows_per_s"] / st["raw_rows_per_s"]
    out.append(row("4. store upserts / raw executemany",
                   f"{st['psad_rows_per_s']:,.0f} / {st['raw_rows_per_s']:,.0f} rows/s = "
                   f"{throughput:.2f}", "≥ 0.7", throughput >= 0.7))

    fs = await service.force_sync_latency()
    out.append(row("5. Force Sync POST → run started (free worker)",
                   f"p50 {fs['p50_ms']:.1f} ms, p99 {fs['p99_ms']:.1f} ms", "p99 ≤ 50 ms",
                   fs["p99_ms"] <= 50))
    out.append(row("   … with 100 nightly runs queued", f"position "
                   f"{fs['position_with_100_queued']}, started next: {fs['forced_ran_next']}",
                   "starts next", bool(fs["forced_ran_next"])))

    tp = await service.ticket_proxy_overhead(args.latency)
    p50 = tp["psad_p50_ms"] - tp["direct_p50_ms"]
    p99 = tp["psad_p99_ms"] - tp["direct_p99_ms"]
    out.append(row("6. ticket proxy added latency (concurrency 32)",
                   f"p50 {p50:+.2f} ms, p99 {p99:+.2f} ms; {tp['psad_rps']:,.0f} vs "
                   f"{tp['direct_rps']:,.0f} req/s direct", "≤ 2 ms p50, ≤ 10 ms p99",
                   p50 <= 2 and p99 <= 10))
    sat = await service.ticket_proxy_overhead(0.0)
    out.append(row("   … simulator answering at once (saturation)",
                   f"p50 {sat['psad_p50_ms'] - sat['direct_p50_ms']:+.2f} ms, p99 "
                   f"{sat['psad_p99_ms'] - sat['direct_p99_ms']:+.2f} ms; "
                   f"{sat['psad_rps']:,.0f} vs {sat['direct_rps']:,.0f} req/s direct",
                   "(for information)", None))

    psa = Sizes(companies=500 // scale, assets=10_000 // scale, contacts=5000 // scale)
    for kind in KINDS:  # every PSA in the registry
        runs = await per_psa(kind, psa, args.latency)
        median = runs[len(runs) // 2]
        r = floor_ratio(median)
        spread = (f"median of {len(runs)}, {floor_ratio(runs[0]):.2f}–{floor_ratio(runs[-1]):.2f}"
                  if len(runs) > 1 else "one run")
        out.append(row(f"7. {kind} full sync / floor ({psa.assets} assets)",
                       f"{median['full'].seconds:.2f} s / {median['floor']:.2f} s = {r:.3f} "
                       f"({spread}; {median['request_count']} requests)", "≤ 1.15", r <= 1.15))
        out.append(row("   … where the CPU went", cpu_note(median, start_up), "", None))
        out.append(row("   requests per entity", cost.per_entity(median["full"]), "", None))

    hl = await service.health_under_load(big, args.latency)
    out.append(row(f"8. p99 with 200 dashboard clients during a {big.assets:,}-asset sync",
                   f"/healthz {hl['healthz_p99_ms']:.0f} ms ({hl['healthz_samples']:.0f} "
                   f"probes), /api/integrations {hl['integrations_p99_ms']:.0f} ms "
                   f"({hl['integrations_samples']:.0f} calls)", "≤ 200 ms, ≤ 1 s",
                   hl["healthz_p99_ms"] <= 200 and hl["integrations_p99_ms"] <= 1000))

    during = await service.pages_during_sync(
        Sizes(companies=200, assets=20_000 // scale, contacts=5000 // scale, tickets=10),
        args.latency / 10)
    out.append(row(f"9. API + dashboard round during a full sync ({20_000 // scale:,} assets)",
                   f"worst {during['worst_s']:.2f} s, p99 {during['p99_s']:.2f} s "
                   f"({during['rounds']:.0f} rounds)", "worst ≤ 1.5 s",
                   during["worst_s"] <= 1.5))
    return out + await user_rows(args, start_up)


def spread(values: list[float], fmt: str) -> str:
    """min / median / max of several runs (one value: just it)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return f"{ordered[0]:{fmt}} (one run)"
    return (f"{ordered[len(ordered) // 2]:{fmt}} (min {ordered[0]:{fmt}}, max "
            f"{ordered[-1]:{fmt}}, median of {len(ordered)})")


def latency_cell(figures: dict[str, float]) -> str:
    return (f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, max "
            f"{figures['max_ms']:.1f} ms ({figures['samples']:.0f} samples)")


async def user_rows(args: argparse.Namespace, start_up: float) -> list[str]:
    """What a user sees: Force Sync from a client over HTTP, idle and beside 8 syncs;
    and the asset-heavy ConnectWise tenant (500 companies): full ÷ floor, psad CPU per
    asset record and peak RSS against a 10k-asset tenant, each over several whole runs."""
    out = []
    load = Sizes(companies=200, assets=10_000, contacts=2000, tickets=10)
    fs = await service.force_sync_over_http(load, args.latency)
    idle, loaded = fs["idle_visible"], fs["loaded_visible"]
    out.append(row("10. Force Sync over HTTP: POST → GET /api/runs/{id} shows it running, idle",
                   latency_cell(idle) + "; the POST alone " + latency_cell(fs["idle_post"]),
                   "p99 ≤ 50 ms", idle["p99_ms"] <= 50))
    out.append(row(f"    … with 8 full syncs running ({load.assets:,} assets each; "
                   f"{fs['running_at_end']} still running at the end; {fs['not_found']} GETs "
                   "answered 404 for a run id just returned)",
                   latency_cell(loaded) + "; the POST alone " + latency_cell(fs["loaded_post"]),
                   "p99 ≤ 150 ms", loaded["p99_ms"] <= 150))

    heavy = Sizes(companies=500, assets=args.heavy_assets // (10 if args.quick else 1),
                  contacts=5000)
    light = Sizes(companies=500, assets=10_000, contacts=5000)
    runs = [await syncs.full_vs_floor("connectwise", heavy, args.latency)
            for _ in range(args.heavy_repeats)]
    ratios = [floor_ratio(r) for r in runs]
    out.append(row(f"11. ConnectWise asset-heavy full sync / floor ({heavy.assets:,} assets, "
                   f"{heavy.companies} companies)", spread(ratios, ".3f") + " — "
                   + ", ".join(f"{r['full'].seconds:.1f} s / {r['floor']:.1f} s" for r in runs),
                   "≤ 1.15", statistics.median(ratios) <= 1.15))
    micros = [(r["full"].cpu_seconds - start_up) / heavy.assets * 1e6 for r in runs]
    out.append(row("12. psad CPU per asset record, same runs (all of psad's run CPU ÷ assets)",
                   spread(micros, ".1f") + " µs", "≤ 50 µs", statistics.median(micros) <= 50))
    small = [await syncs.peak_memory("connectwise", light, args.latency)
             for _ in range(args.heavy_repeats)]
    big_rss = [r["full"].peak_rss_mib for r in runs]
    small_rss = [r.peak_rss_mib for r in small]
    mem = statistics.median(big_rss) / statistics.median(small_rss)
    out.append(row(f"13. peak RSS, whole sync-once process, {heavy.assets:,} ÷ "
                   f"{light.assets:,} assets (500 companies, 5,000 contacts)",
                   f"{mem:.2f}: {spread(big_rss, '.0f')} MiB ÷ {spread(small_rss, '.0f')} MiB",
                   "≤ 1.1", mem <= 1.1))
    return out


async def request_cost_rows(big: Sizes, args: argparse.Namespace) -> list[str]:
    """Bundled against one site call per company at cloud latency, and incremental ÷
    full for the PSAs whose incremental runs prove deletions by count."""
    out = []
    cloud = args.cloud_latency
    bundled = await cost.full_then_incremental("connectwise", big, cloud, share=None)
    single = await cost.full_then_incremental("connectwise", big, cloud, share=None,
                                              bundles=False)
    b, s = bundled["full"], single["full"]
    out.append(row(f"2a. ConnectWise full sync requests ({big.companies:,} companies, "
                   f"{big.assets:,} assets, {big.contacts:,} contacts)",
                   f"{bundled['full_requests']:,}", "≤ 300", bundled["full_requests"] <= 300))
    speedup = s.seconds / b.seconds
    out.append(row(f"2b. ConnectWise full sync at {cloud * 1000:.0f} ms/request: one site "
                   "call per company / bundled",
                   f"{s.seconds:.1f} s / {b.seconds:.1f} s = {speedup:.1f}× "
                   f"({single['full_requests']:,} vs {bundled['full_requests']:,} requests)",
                   "≥ 5×", speedup >= 5))
    out.append(row("   bundled requests per entity", cost.per_entity(b), "", None))
    out.append(row("   one-call-per-company requests per entity", cost.per_entity(s), "",
                   None))
    for kind in ("autotask", "halo"):
        r = await cost.full_then_incremental(kind, big, args.latency)
        full, incr = r["full"], r["incremental"]
        share = incr.seconds / full.seconds
        label = {"autotask": "2c", "halo": "2d"}[kind]
        out.append(row(f"{label}. {kind} incremental (1 % changed) / full, {big.assets:,} assets",
                       f"{incr.seconds:.2f} s / {full.seconds:.2f} s = {share:.1%} "
                       f"({r['incremental_requests']} vs {r['full_requests']} requests)",
                       "≤ 5 %", share <= 0.05))
        out.append(row("   full requests per entity", cost.per_entity(full), "", None))
        out.append(row("   incremental requests per entity", cost.per_entity(incr), "", None))
    bms_sizes = Sizes(companies=big.companies // 10, assets=big.assets // 10,
                      contacts=big.contacts // 10)
    bms = await cost.bms_nightly(bms_sizes, args.latency)
    out.append(row(f"2e. Kaseya BMS nightly asset detail calls, {bms_sizes.assets:,} assets, "
                   "5 % changed (notes: not in its list row), hourly limit on",
                   f"{bms['details']:,} of {bms['requests']:,} requests; "
                   f"{bms['nightly'].seconds:.1f} s, {bms['nightly'].outcome} "
                   f"(initial load {bms['initial'].requests.get('assets', 0):,} asset requests)",
                   "≤ 1,500", bms["details"] <= 1500 and bms["nightly"].outcome == "succeeded"))
    out.append(row("   nightly requests per entity", cost.per_entity(bms["nightly"]), "", None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--latency", type=float, default=0.02,
                        help="seconds of simulated PSA latency per request (default 0.02)")
    parser.add_argument("--only", choices=("cost", "user"),
                        help="only the request-cost rows (2a–2e), or only what a user sees "
                             "(10–13)")
    parser.add_argument("--heavy-assets", type=int, default=300_000,
                        help="assets of the asset-heavy ConnectWise tenant, 500 companies "
                             "(default 300000, the issue's size)")
    parser.add_argument("--heavy-repeats", type=int, default=3,
                        help="whole runs of the asset-heavy rows (default 3)")
    parser.add_argument("--cloud-latency", type=float, default=0.15,
                        help="latency of the cloud profile, bundled vs one site call per "
                             "company (default 0.15)")
    args = parser.parse_args()
    print("\n".join(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
