"""CPU per page of reading simulated pages in-process vs through crawler.shell.pagepool. Not a test.

    .venv/bin/python benchmarks/pagepool_bench.py

In-process is what the reactor's thread paid before issue 13; through the pool it pays only the
pickling and hand-off ("main"), and the workers the parse ("workers", their start-up included).
"""
import asyncio, resource, time
from datetime import UTC, datetime
from crawler.core.items import DueBacklink
from crawler.core.observe import Fetched
from crawler.shell.pagepool import PagePool, read_static
from tests.support.simweb import SimConfig, iter_pages
from tests.support.simweb.model import Renderer

def work():
    config = SimConfig(sites=500)
    pages = list(iter_pages(config, 1500))
    r = Renderer(config.seed); out = []; n = 1
    for p in pages:
        due = [DueBacklink(id=n + i, target_url=b.target_url, match=b.match) for i, b in enumerate(p.backlinks)]; n += len(due)
        body = r.page(p).encode() if p.status in (200, 301) else b"<html></html>"
        out.append((due, Fetched(url=p.url(80), final_url=p.url(80), http_status=200,
                                 headers={"content-type": ["text/html; charset=utf-8"]}, body=body, text=body.decode())))
    return out

def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN); return u.ru_utime + u.ru_stime

async def via_pool(items, at, workers):
    pool = PagePool(workers, 10); pool.start()
    await pool.run(read_static, items[0][0], items[0][1], at, strip_tracking=True, auto_render=True, confirm_by_render=True)
    c0, k0, w0 = time.process_time(), children_cpu(), time.perf_counter()
    sem = asyncio.Semaphore(64)
    async def one(d, f):
        async with sem:
            return await pool.run(read_static, d, f, at, strip_tracking=True, auto_render=True, confirm_by_render=True)
    await asyncio.gather(*(one(d, f) for d, f in items))
    main, wall = time.process_time() - c0, time.perf_counter() - w0
    pool.close()
    return main, children_cpu() - k0, wall

if __name__ == "__main__":
    items = work(); at = datetime.now(UTC); n = len(items)
    print(f"{n} pages, mean body {sum(len(f.body) for _, f in items) / n / 1024:.0f} KiB")
    c = time.process_time()
    for d, f in items:
        read_static(d, f, at, strip_tracking=True, auto_render=True, confirm_by_render=True)
    inline = (time.process_time() - c) / n * 1000
    print(f"in-process: {inline:.2f} ms CPU/page on the reactor's thread")
    for workers in (1, 2):
        main, child, wall = asyncio.run(via_pool(items, at, workers))
        print(f"pool({workers}): main {main / n * 1000:.2f} ms/page, workers {child / n * 1000:.2f} ms/page "
              f"(incl. start-up), total {(main + child) / n * 1000:.2f} ms/page, wall {wall / n * 1000:.2f} ms/page")
