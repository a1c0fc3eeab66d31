# The PyTorch column of `npm run bench` (bench/pytorch.ts starts it, once per model):
# the model trained natively on the CPU with webgpu-train's recipe (cross-entropy,
# train.py's KerasRMSprop), in stretches of steps the Node side asks for, so that
# it times them in the same rounds as ours and TensorFlow.js'. One JSON object a line
# each way:
#   (started)                                  -> {"torch": "1.13.1", "python": "3.11.2", "threads": 2}
#   {"architecture", "batch", "x", "labels"}   -> {"params": 101770}
#       x: the batch's float32 rows, labels: int32, both little-endian, in base64
#   {"steps": N}                               -> {"ms": wall time of N steps}
# Anything that goes wrong is answered {"error": "..."}, and the process ends; so does the end of stdin.
import base64
import json
import os
import platform
import sys
import time


def answer(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def serve():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as error:
        answer({"error": f"{sys.executable} has no PyTorch ({error})"})
        return
    import model as webgpu_model
    from train import KerasRMSprop

    torch.set_num_threads(os.cpu_count() or 1)
    answer({"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads()})

    setup = json.loads(sys.stdin.readline() or "null")
    if setup is None:
        return
    architecture = setup["architecture"]
    batch = setup["batch"]
    net = webgpu_model.build(architecture)
    if not net.softmax_output:
        raise ValueError("the last layer must end in softmax: the benchmark minimises cross-entropy on its logits")
    net.train()
    pixels = torch.frombuffer(bytearray(base64.b64decode(setup["x"])), dtype=torch.float32)
    x = webgpu_model.to_input(architecture, pixels.reshape(batch, -1))
    y = torch.frombuffer(bytearray(base64.b64decode(setup["labels"])), dtype=torch.int32).to(torch.int64)
    if len(y) != batch:
        raise ValueError(f"{len(y)} labels for a batch of {batch}")
    optimizer = KerasRMSprop(net.parameters(), lr=0.001, rho=0.9, eps=1e-7)
    answer({"params": sum(p.numel() for p in net.parameters())})

    for line in sys.stdin:
        count = json.loads(line)["steps"]
        started = time.perf_counter()
        for _ in range(count):
            loss = F.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        loss.item()  # on the CPU every op has run already; as the other two, the stretch ends on the loss
        answer({"ms": (time.perf_counter() - started) * 1000})


if __name__ == "__main__":
    try:
        serve()
    except Exception as error:  # the Node side shows it as the column's reason
        answer({"error": f"{type(error).__name__}: {error}"})
    # As train.py: PyTorch 1.13 on Python 3.11 can hang in the interpreter's teardown; nothing is left to flush.
    sys.stdout.flush()
    os._exit(0)
