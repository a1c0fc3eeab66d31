# Scores the exported model on MNIST's test images in PyTorch: prints the test
# loss and accuracy and the probabilities for test image 0, as `npm run evaluate` does.
import argparse
import json
import os

import torch
import torch.nn.functional as F

import model as webgpu_model

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description="The exported model's test loss and accuracy on MNIST, in PyTorch.")
    parser.add_argument("--data", default=os.environ.get("MNIST_DIR"), help="a directory with MNIST's IDX files (.gz or not)")
    parser.add_argument("--limit", type=int, help="the first N test images only")
    parser.add_argument("--weights", default=os.path.join(HERE, "model.safetensors"))
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--probabilities", metavar="FILE", help="also write every image's probabilities to FILE as JSON")
    args = parser.parse_args()
    if not args.data:
        parser.error("--data DIR (or MNIST_DIR) is required")

    model, architecture = webgpu_model.load(args.weights)
    model.eval()
    images, labels = webgpu_model.read_mnist(args.data, "t10k", args.limit)
    with torch.no_grad():
        outputs = torch.cat([model(webgpu_model.to_input(architecture, batch)) for batch in images.split(args.batch_size)])
    probabilities = webgpu_model.probabilities(model, outputs)
    # Sparse categorical cross-entropy, from the logits where the model has them (log-softmax: no log of 0).
    loss = F.cross_entropy(outputs, labels) if model.softmax_output else F.nll_loss(torch.log(probabilities), labels)
    accuracy = (probabilities.argmax(dim=1) == labels).double().mean().item()
    print(f"test loss: {loss.item():.4f} - test accuracy: {accuracy:.4f} ({len(labels):,} test images)")
    print(f"prediction for test image 0: [{', '.join(f'{p:.2e}' for p in probabilities[0].tolist())}]")
    print(f"argmax {probabilities[0].argmax().item()}, true label {labels[0].item()}")
    if args.probabilities:
        with open(args.probabilities, "w") as f:
            json.dump(probabilities.tolist(), f)


if __name__ == "__main__":
    main()
