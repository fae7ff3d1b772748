"""Serving throughput: ``flash serve`` (request batching) vs a hand-written FastAPI endpoint (a model call per request).

Both servers run the same checkpoint in their own subprocess on this machine; clients (threads with httpx)
upload one image per request at 1, 8 and 32 concurrent clients. Reported: requests/s, p50 and p99 latency, and
flash's requests/s as a ratio of the hand-written endpoint's, measured side by side in the same run.

    python benchmarks/serve_throughput.py            # resnet18 at 128 px, 1/8/32 clients
    python benchmarks/serve_throughput.py --quick    # a tiny model, few requests: checks that it all works
    python benchmarks/serve_throughput.py --json out.json   # the numbers also as JSON (what ``run`` returns)

``--quick`` also checks that both servers give the same answers for the same images.
"""


import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _common import add_json_argument, write_json  # noqa: E402 - beside this script

REPO = Path(__file__).resolve().parents[1]


def baseline_server(checkpoint: str, port: int) -> None:
    """The hand-written endpoint: FastAPI's usual sync handler, ``model.predict`` once per request."""
    import uvicorn
    from fastapi import FastAPI, UploadFile
    from PIL import Image

    from flash.core.task import Task

    model = Task.load_from_checkpoint(checkpoint)
    app = FastAPI()

    @app.post("/predict")
    def predict(files: list[UploadFile]) -> list:
        image = Image.open(io.BytesIO(files[0].file.read())).convert("RGB")
        return [{"input": files[0].filename, "prediction": model.predict(image)}]

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(command: list[str], port: int) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(3000):  # up to ~10 minutes on a very busy machine
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def _make_checkpoint(folder: Path, *, backbone: str, image_size: int) -> tuple[str, list[bytes]]:
    import torch
    from PIL import Image

    import flash
    from flash.image import ImageClassificationData, ImageClassifier

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)) for _ in range(16)]
    datamodule = ImageClassificationData.from_images(train_images=images, train_targets=[i % 4 for i in range(16)],
                                                     batch_size=8, transform_kwargs={"image_size": image_size})
    torch.manual_seed(0)
    model = ImageClassifier(num_classes=4, labels=["a", "b", "c", "d"], backbone=backbone, pretrained=False)
    trainer = flash.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            default_root_dir=str(folder))
    trainer.fit(model, datamodule=datamodule)
    trainer.save_checkpoint(folder / "model.pt")
    payloads = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        payloads.append(buffer.getvalue())
    return str(folder / "model.pt"), payloads


def _load(url: str, payloads: list[bytes], *, clients: int, requests: int) -> dict:
    import httpx

    def one(i: int) -> tuple[float, object]:
        with httpx.Client(timeout=600) as client:
            start = time.perf_counter()
            response = client.post(url, files={"files": (f"{i}.png", payloads[i % len(payloads)], "image/png")})
            response.raise_for_status()
            return time.perf_counter() - start, response.json()[0]["prediction"]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - start
    latencies = np.array([r[0] for r in results]) * 1000
    return {"rps": requests / elapsed, "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99)), "answers": [r[1] for r in results]}


def run(args: argparse.Namespace) -> dict:
    """Both servers under 1, 8 (and 32) concurrent clients; per level their req/s, latencies and agreement.

    Stops after the first level where the answers differ.
    """
    backbone = args.backbone or ("test_resnet" if args.quick else "resnet18")
    image_size = args.image_size or (32 if args.quick else 128)
    levels = (1, 8) if args.quick else (1, 8, 32)
    result: dict = {"backbone": backbone, "image_size": image_size, "levels": []}
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, payloads = _make_checkpoint(Path(tmp), backbone=backbone, image_size=image_size)
        ports = {"flash serve": _free_port(), "hand-written": _free_port()}
        servers = {
            "flash serve": _start(["-m", "flash", "serve", "--checkpoint", checkpoint, "--port",
                                   str(ports["flash serve"]), "--max-batch-size", "32"], ports["flash serve"]),
            "hand-written": _start([__file__, "--baseline-server", checkpoint, str(ports["hand-written"])],
                                   ports["hand-written"]),
        }
        try:
            print(f"model: ImageClassifier({backbone!r}) at {image_size} px; one PNG image per request")
            print(f"{'clients':>7} {'server':>13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for clients in levels:
                requests = args.requests or (4 * clients if args.quick else max(64, 8 * clients))
                rows = {name: _load(f"http://127.0.0.1:{port}/predict", payloads, clients=clients, requests=requests)
                        for name, port in ports.items()}
                for name, row in rows.items():
                    print(f"{clients:>7} {name:>13} {row['rps']:>8.1f} {row['p50']:>8.1f} {row['p99']:>8.1f}")
                ratio = rows["flash serve"]["rps"] / rows["hand-written"]["rps"]
                print(f"{clients:>7} {'ratio':>13} {ratio:>8.2f}x")
                same = rows["flash serve"]["answers"] == rows["hand-written"]["answers"]
                print(f"answers identical at {clients} clients: {same}")
                result["levels"].append({
                    "clients": clients, "requests": requests, "ratio": ratio, "answers_identical": same,
                    **{name: {k: v for k, v in row.items() if k != "answers"} for name, row in rows.items()},
                })
                if not same:
                    break
        finally:
            for process in servers.values():
                process.terminate()
                process.wait(timeout=300)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny model, few requests: a correctness check")
    parser.add_argument("--backbone", default=None)
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None, help="requests per concurrency level")
    parser.add_argument("--baseline-server", nargs=2, metavar=("CHECKPOINT", "PORT"), help=argparse.SUPPRESS)
    add_json_argument(parser)
    args = parser.parse_args(argv)
    if args.baseline_server:
        baseline_server(args.baseline_server[0], int(args.baseline_server[1]))
        return 0
    result = run(args)
    write_json(args.json, result)
    return 0 if all(level["answers_identical"] for level in result["levels"]) else 1


if __name__ == "__main__":
    sys.exit(main())
