"""The lecture's MNIST PyTorch program (course material 002): a 784-100-10 network with a
sigmoid hidden layer and a softmax output, ``nn.CrossEntropyLoss`` and Adam, batches of 100,
30 epochs, on neuralab.

Only the imports differ from the slides (``torch`` became ``neuralab.torch``, ``torchvision``
``neuralab.torchvision``); the data come from a local folder instead of ``'../data'``::

    python examples/torch_lecture/mnist.py [MNIST_FOLDER]

The folder (argument, else ``$LECTURE_MNIST_ROOT``, else ``../shared/data/mnist`` beside the
repository, else the slides' ``../data``) may hold torchvision's ``MNIST/raw/`` layout or the
four ``*-idx?-ubyte[.gz]`` files; when none is found, ``download=True`` fetches MNIST into
neuralab's data cache. The slides do not show the loaders, the loss or the learning rate:
``DataLoader(..., batch_size=100)``, ``nn.CrossEntropyLoss()`` and ``optim.Adam`` with its
default ``lr=0.001`` are used (on the slides' softmax output, as the slides do).

Knobs (environment variables, read at the top): ``LECTURE_SEED`` (default 0),
``LECTURE_EPOCHS`` (default 30), ``LECTURE_TRAIN_SUBSET`` (train on the first N training
images; default all 60,000), ``LECTURE_PLOTS`` (a folder for the accuracy-curve PNG). The
last line printed is ``final test accuracy: xx.xx%``.
"""
import os
import sys
from pathlib import Path

SEED = int(os.environ.get("LECTURE_SEED", "0"))
EPOCHS = int(os.environ.get("LECTURE_EPOCHS", "30"))
TRAIN_SUBSET = os.environ.get("LECTURE_TRAIN_SUBSET")
PLOTS = os.environ.get("LECTURE_PLOTS")
_shared = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
DATA_ROOT = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("LECTURE_MNIST_ROOT")
             or (str(_shared) if _shared.is_dir() else "../data"))

# ---- from here on, the slides' code; only the imports differ ----
# (E402: the slides' imports stay where the slides have them)
import neuralab.torch as torch  # noqa: E402  was: import torch
import neuralab.torch.nn as nn  # noqa: E402  was: import torch.nn as nn
import neuralab.torch.nn.functional as F  # noqa: E402  was: import torch.nn.functional as F
import neuralab.torch.optim as optim  # noqa: E402  was: import torch.optim as optim
from neuralab.torch.utils.data import DataLoader  # noqa: E402  was: from torch.utils.data import ...
from neuralab.torchvision import datasets, transforms  # noqa: E402  was: from torchvision import ...

torch.manual_seed(SEED)  # not on the slides: makes the run repeatable

# Define a transform to normalize the data
transform = transforms.Compose([transforms.ToTensor(),
                                transforms.Normalize((0.1307,), (0.3081,))])

# Download and load the training data
train_data = datasets.MNIST(DATA_ROOT, train=True, download=True, transform=transform)

# Download and load the test data
test_data = datasets.MNIST(DATA_ROOT, train=False, download=True, transform=transform)

if TRAIN_SUBSET:  # not on the slides: a shorter run for tests
    train_data.data = train_data.data[:int(TRAIN_SUBSET)]
    train_data.targets = train_data.targets[:int(TRAIN_SUBSET)]

train_loader = DataLoader(train_data, batch_size=100, shuffle=True)
test_loader = DataLoader(test_data, batch_size=100, shuffle=False)


class Net(nn.Module):
    def __init__(self, nin, nh, nout):
        super(Net, self).__init__()  # noqa: UP008 - the slides' spelling
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(nin, nh)
        self.fc2 = nn.Linear(nh, nout)

    def forward(self, x):
        x = self.flatten(x)
        x = self.fc1(x)
        x = torch.sigmoid(x)
        x = self.fc2(x)
        x = F.softmax(x, dim=1)
        return x # Apply softmax to the output


nin = 28*28
nh = 100
nout = 10
model = Net(nin, nh, nout)
print(model)

criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters())
epochs = EPOCHS
train_accuracy_history = []
test_accuracy_history = []

# Training loop
for epoch in range(epochs):
    # Training
    model.train()
    correct = 0
    total = 0
    for batch_idx, (data, target) in enumerate(train_loader):  # noqa: B007 - the slides
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()

        _, predicted = torch.max(output.data, 1)
        total += target.size(0)
        correct += (predicted == target).sum().item()

    train_accuracy = 100 * correct / total
    train_accuracy_history.append(train_accuracy)

    # Testing
    model.eval()
    correct = 0
    total = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            _, predicted = torch.max(output.data, 1)
            total += target.size(0)
            correct += (predicted == target).sum().item()

    test_accuracy = 100 * correct / total
    test_accuracy_history.append(test_accuracy)
    print(f'Epoch {epoch+1}/{epochs}, Train Accuracy: {train_accuracy:.2f}%, '
          f'Test Accuracy: {test_accuracy:.2f}%')

print(f"final test accuracy: {test_accuracy_history[-1]:.2f}%")  # not on the slides: what the test reads

if PLOTS:  # the slides show the figure inline; here it is saved as a file
    import matplotlib  # noqa: E402

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: E402

    os.makedirs(PLOTS, exist_ok=True)
    #Plot the accuracy
    plt.plot(train_accuracy_history, label='Training Accuracy')
    plt.plot(test_accuracy_history, label = 'Test Accuracy')
    plt.xlabel('Epoch')
    plt.ylabel('Accuracy (%)')
    plt.legend()
    plt.savefig(os.path.join(PLOTS, "mnist_accuracy.png"))
    print(f"plot written to {PLOTS}")
