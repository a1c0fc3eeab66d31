# Continues training the exported model in PyTorch, with webgpu-train's recipe
# (sparse categorical cross-entropy, Keras' RMSprop), on one process or many:
#   torchrun --nproc_per_node 4 train.py --data DIR --epochs 5 --save trained.safetensors
# Each process takes its share of every batch (DistributedSampler), and
# DistributedDataParallel averages the gradients (gloo on CPU, nccl on GPUs).
import argparse
import os
import sys
import warnings

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import model as webgpu_model

HERE = os.path.dirname(os.path.abspath(__file__))

# A conv with one input channel gets gradients with other (equivalent) strides
# than DDP's buckets; PyTorch warns on every step though nothing is wrong.
warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")


class KerasRMSprop(torch.optim.Optimizer):
    """Keras' RMSprop: epsilon inside the square root, v = rho v + (1 - rho) g^2, w -= lr g / sqrt(v + eps).

    torch.optim.RMSprop adds epsilon outside the square root, which moves the
    first steps (v is near 0) far from where webgpu-train's would go.
    """

    def __init__(self, params, lr=0.001, rho=0.9, eps=1e-7):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "mean_square" not in state:
                    state["mean_square"] = torch.zeros_like(p)
                s = state["mean_square"]
                s.mul_(group["rho"]).addcmul_(p.grad, p.grad, value=1 - group["rho"])
                p.addcdiv_(p.grad, (s + group["eps"]).sqrt(), value=-group["lr"])


def mean_loss(model, architecture, loader, device):
    """The mean loss over every process' share of the data, summed across processes."""
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=device)
    with torch.no_grad():
        for x, y in loader:
            x, y = webgpu_model.to_input(architecture, x).to(device), y.to(device)
            total += torch.tensor([F.cross_entropy(model(x), y, reduction="sum").item(), len(y)], dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(total)
    return (total[0] / total[1]).item()


def main():
    parser = argparse.ArgumentParser(description="Continue training the exported model in PyTorch (torchrun for several processes).")
    parser.add_argument("--data", default=os.environ.get("MNIST_DIR"), help="a directory with MNIST's IDX files (.gz or not)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, help="train on the first N training images only")
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch, split between the processes")
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default=os.path.join(HERE, "model.safetensors"))
    parser.add_argument("--save", metavar="FILE", help="write the trained weights (npm run export -- --from-torch FILE imports them)")
    args = parser.parse_args()
    if not args.data:
        parser.error("--data DIR (or MNIST_DIR) is required")

    distributed = "WORLD_SIZE" in os.environ  # set by torchrun
    if distributed:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if args.batch_size % world:
        parser.error(f"--batch-size {args.batch_size} does not split evenly between {world} processes")
    # Dropout masks differ between processes; the sampler's shuffle is the same on all.
    torch.manual_seed(args.seed + rank)

    model, architecture = webgpu_model.load(args.weights)
    if not model.softmax_output:
        raise SystemExit("the last layer must end in softmax: train.py minimises cross-entropy on its logits")
    model.to(device)
    images, labels = webgpu_model.read_mnist(args.data, "train", args.limit)
    data = TensorDataset(images, labels)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size // world, sampler=sampler)
    unshuffled = DataLoader(data, batch_size=1000, sampler=DistributedSampler(data, num_replicas=world, rank=rank, shuffle=False))
    network = DistributedDataParallel(model) if distributed else model
    optimizer = KerasRMSprop(model.parameters(), lr=args.learning_rate)

    log = print if rank == 0 else (lambda *_: None)
    log(f"{world} process{'es' if world > 1 else ''} on {device}, {len(data)} images, batches of {args.batch_size} ({args.batch_size // world} per process)")
    log(f"initial loss: {mean_loss(model, architecture, unshuffled, device):.4f}")
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        network.train()
        running = torch.zeros(2, dtype=torch.float64, device=device)
        for x, y in loader:
            x, y = webgpu_model.to_input(architecture, x).to(device), y.to(device)
            loss = F.cross_entropy(network(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += torch.tensor([loss.item() * len(y), len(y)], dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(running)
        log(f"epoch {epoch + 1}/{args.epochs} - loss: {(running[0] / running[1]).item():.4f}")
    log(f"final loss: {mean_loss(model, architecture, unshuffled, device):.4f}")
    if args.save and rank == 0:
        webgpu_model.save(model, architecture, args.save)
        log(f"saved {args.save}")
    if distributed:
        # Every rank leaves together, once rank 0 has saved. No destroy_process_group:
        # under load a rank of PyTorch 1.13 spun in it forever after the other had
        # left (gloo); the process' exit below releases the group.
        dist.barrier()


if __name__ == "__main__":
    main()
    # With PyTorch 1.13 on Python 3.11 a worker can hang in the interpreter's
    # teardown after its work is done (gloo's threads; seen now and then on
    # Debian 12): everything is saved and flushed, so leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
