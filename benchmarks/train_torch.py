#!/usr/bin/python3
"""PyTorch child of cmd/bench's training benchmark (benchmarks/README.md).

Usage: /usr/bin/python3 train_torch.py JOB-JSON   (cmd/bench runs it; see harness.TrainJob)

Trains the MNIST CNN of models/mnist-cnn (Conv32-MaxPool-Conv64-MaxPool-Conv64-
Dense64-Dense10, ReLUs, Glorot-uniform weights, zero biases) with Adam(lr) and
softmax cross-entropy (mean over the batch) on the first images of the MNIST
training set, read from the IDX files in job["data"] (parsed here with numpy,
pixels/255), on job["threads"] intra-op threads. The batches are converted to
float32 tensors before timing and used in turn; a step is zero_grad, forward,
loss, backward, optimizer step and reading the loss value. It runs
job["warmup"] untimed steps, then times steps until job["steps"] are done, or
job["budget"] has passed and job["min_steps"] are done, and prints one JSON
line (harness.TrainResult): every step's milliseconds, the median, images per
second at the median, the first and last loss, the process CPU time per timed
step, and the peak resident set size (VmHWM of /proc/self/status).

This file is a benchmark tool only; nothing in Onyx runs Python.
"""

import gzip
import json
import os
import struct
import sys
import time

NS = 1e-9


def fail(stage, err):
    print(json.dumps({"ok": False, "stage": stage, "error": str(err)}))
    sys.stdout.flush()
    sys.exit(0)


def read_idx(path, limit):
    """Reads an IDX file of unsigned bytes (path or path.gz) with numpy."""
    import numpy as np

    if not os.path.exists(path):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic >> 8 != 0x08:
        raise ValueError("%s: IDX magic %#x is not unsigned bytes" % (path, magic))
    rank = magic & 0xFF
    dims = list(struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank]))
    if limit and limit < dims[0]:
        dims[0] = limit
    count = 1
    for d in dims:
        count *= d
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank, count=count).reshape(dims)


def vmhwm_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def median(v):
    s = sorted(v)
    n = len(s)
    if n == 0:
        return float("nan")
    pos = 0.5 * (n - 1)
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


def main():
    if len(sys.argv) != 2 or not sys.argv[1].startswith("{"):
        sys.stderr.write("usage: train_torch.py JOB-JSON (a child of cmd/bench)\n")
        sys.exit(2)
    job = json.loads(sys.argv[1])
    stage = "load"
    try:
        import numpy as np
        import torch
        import torch.nn as nn

        threads = int(job.get("threads", 1))
        torch.set_num_threads(threads)
        torch.manual_seed(int(job.get("seed", 1)))
        batch = int(job["batch"])
        nbatches = int(job["batches"])
        t0 = time.perf_counter_ns()
        d = job["data"]
        images = read_idx(os.path.join(d, "train-images-idx3-ubyte"), nbatches * batch)
        labels = read_idx(os.path.join(d, "train-labels-idx1-ubyte"), nbatches * batch)
        if images.shape[0] < nbatches * batch:
            raise ValueError("only %d images, want %d" % (images.shape[0], nbatches * batch))
        xs = [
            torch.from_numpy((images[i * batch : (i + 1) * batch].astype(np.float32) / np.float32(255))[:, None].copy())
            for i in range(nbatches)
        ]
        ys = [torch.from_numpy(labels[i * batch : (i + 1) * batch].astype(np.int64)) for i in range(nbatches)]

        class CNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 32, 3)
                self.conv2 = nn.Conv2d(32, 64, 3)
                self.conv3 = nn.Conv2d(64, 64, 3)
                self.dense1 = nn.Linear(576, 64)
                self.dense2 = nn.Linear(64, 10)
                for m in self.modules():
                    if isinstance(m, (nn.Conv2d, nn.Linear)):
                        nn.init.xavier_uniform_(m.weight)
                        nn.init.zeros_(m.bias)

            def forward(self, x):
                x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
                x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
                x = torch.relu(self.conv3(x)).flatten(1)
                return self.dense2(torch.relu(self.dense1(x)))

        model = CNN()
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=float(job.get("lr", 1e-3)))
        loss_fn = nn.CrossEntropyLoss()
        load_ms = (time.perf_counter_ns() - t0) * NS * 1e3

        def step(i):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xs[i % nbatches]), ys[i % nbatches])
            loss.backward()
            opt.step()
            return loss.item()

        stage = "run"
        losses = []
        i = 0
        for _ in range(max(int(job.get("warmup", 1)), 1)):
            losses.append(step(i))
            i += 1
        lat = []
        budget = float(job.get("budget", 10e9)) * NS  # Go's time.Duration, in ns
        want = max(int(job.get("steps", 1)), 1)
        min_steps = max(int(job.get("min_steps", 1)), 1)
        cpu0 = time.process_time()
        start = time.perf_counter()
        while len(lat) < want:
            t = time.perf_counter_ns()
            losses.append(step(i))
            lat.append((time.perf_counter_ns() - t) * NS * 1e3)
            i += 1
            el = time.perf_counter() - start
            if (el >= budget and len(lat) >= min_steps) or el >= 3 * budget:
                break
        cpu_ms = (time.process_time() - cpu0) * 1e3 / len(lat)
        med = median(lat)
        print(
            json.dumps(
                {
                    "ok": True,
                    "load_ms": load_ms,
                    "warmups": i - len(lat),
                    "steps": len(lat),
                    "step_ms": lat,
                    "median_ms": med,
                    "min_ms": min(lat),
                    "img_per_s": batch / (med / 1e3),
                    "first_loss": losses[0],
                    "last_loss": losses[-1],
                    "cpu_ms_per_step": cpu_ms,
                    "vmhwm_kib": vmhwm_kib(),
                    "version": "PyTorch " + torch.__version__,
                    "threads_used": torch.get_num_threads(),
                }
            )
        )
    except Exception as e:  # reported to the parent, which shows it in the table
        import traceback

        traceback.print_exc()
        fail(stage, "%s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    main()
