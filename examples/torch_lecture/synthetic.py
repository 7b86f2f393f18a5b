"""The lecture's first PyTorch program (course material 002): a 2-4-1 sigmoid network on the
synthetic 2-D data, trained with ``nn.BCELoss`` and ``optim.Adam(lr=0.03)``, on neuralab.

Only the imports differ from the slides (``torch`` became ``neuralab.torch``). The slides do
not show how ``X``, ``y`` and ``y_int`` are made: they come from
:func:`neuralab.datasets.make_lecture_synthetic` (400 points, seeded). Plots are written as
PNG files instead of being shown::

    python examples/torch_lecture/synthetic.py

Knobs (environment variables, read at the top): ``LECTURE_SEED`` (data and weights, default
0), ``LECTURE_EPOCHS`` (default 1000, both loops), ``LECTURE_PLOTS`` (a folder for the
decision-region and hidden-unit PNGs; unset: no plots). The last line printed is
``final training accuracy: 0.xxxx`` (after the first loop, the slide's number).
"""
import os

import numpy as np

from neuralab.datasets import make_lecture_synthetic

SEED = int(os.environ.get("LECTURE_SEED", "0"))
EPOCHS = int(os.environ.get("LECTURE_EPOCHS", "1000"))
PLOTS = os.environ.get("LECTURE_PLOTS")

X, y = make_lecture_synthetic(400, seed=SEED)
nx = X.shape[1]

# ---- from here on, the slides' code; only the imports differ ----
# (E402: the slides' imports stay where the slides have them)
import neuralab.torch as torch  # noqa: E402  was: import torch
import neuralab.torch.nn as nn  # noqa: E402  was: import torch.nn as nn
import neuralab.torch.optim as optim  # noqa: E402  was: import torch.optim as optim

torch.manual_seed(SEED)  # not on the slides: makes the run repeatable


# Define the neural network architecture
class Net(nn.Module):
    def __init__(self, input_size, hidden_size):
        super(Net, self).__init__()  # noqa: UP008 - the slides' spelling
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.activation = nn.Sigmoid()
        self.fc2 = nn.Linear(hidden_size, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        x = self.fc1(x)
        x = self.activation(x)
        x = self.fc2(x)
        x = self.sigmoid(x)
        return x


nin = nx # Number of inputs
nh = 4   # Number of hidden units

model = Net(nin, nh)

# Print a summary
print(model)

# Create a 1D tensor
x1 = torch.tensor([1,2,3])

# Create a 2D tensor
x2 = torch.tensor([[1,2,3],[4,5,6]])

# Indexing a tensor
x3 = torch.arange(12).reshape(4,3)
y3 = x3[1:3,1:]
print(x3)
print(y3)

# Convert from numpy to torch and back
x_numpy = x3.numpy()
x_torch = torch.from_numpy(x_numpy)

from neuralab.torch.utils.data import DataLoader, TensorDataset  # noqa: E402  was: from torch.utils.data import ...

# Convert your data to PyTorch tensors.
# The targets, y_torch, are reshaped to (n_samples,1)
X_torch = torch.tensor(X, dtype=torch.float32)
y_torch = torch.tensor(y, dtype=torch.float32)[: ,None]
y_int = torch.tensor(y)[:, None]  # not on the slides: the integer labels the accuracy uses

# Create a TensorDataset
dataset = TensorDataset(X_torch, y_torch)

# Create a DataLoader
batch_size = 100
data_loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)

# Define loss function and optimizer
criterion = nn.BCELoss()
optimizer = optim.Adam(model.parameters(), lr=0.03)

# Create arrays to store values
lossval = []
epochval = []
accval = []

# Training loop with DataLoader
num_epochs = EPOCHS
for epoch in range(num_epochs):
    for inputs, labels in data_loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

    # Calculate training accuracy
    with torch.no_grad():
        outputs = model(X_torch)
        predicted = (outputs > 0.5)
        accuracy = torch.sum(predicted == y_int).item() / y_int.size(0)

    # Save the values
    lossval.append(loss.item())
    epochval.append(epoch)
    accval.append(accuracy)

    if (epoch + 1) % 20 == 0:
        print(f'Epoch [{epoch+1}/{num_epochs}], Loss: {loss.item():.4f}, \
              Accuracy: {accuracy:.4f}')

print(f"final training accuracy: {accval[-1]:.4f}")  # not on the slides: what the test reads

from tqdm import tqdm  # noqa: E402

# Use the tqdm loop
nepoch = EPOCHS
for epoch in tqdm(range(nepoch)):  # noqa: B007 - the slides
    for inputs, labels in data_loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

# Limits to plot the response.
xmin = [0,0]
xmax = [1,1]

# Use meshgrid to create the 2D input
nplot = 100
x0plot = np.linspace(xmin[0],xmax[1],nplot)
x1plot = np.linspace(xmin[0],xmax[1],nplot)
x0mat, x1mat = np.meshgrid(x0plot,x1plot)
Xplot = np.column_stack([x0mat.ravel(), x1mat.ravel()])

# Compute the output
with torch.no_grad():
    yplot = model(torch.tensor(Xplot, dtype=torch.float32))

# Convert yplot to numpy
yplot = yplot.numpy()
yplot_mat = yplot[:,0].reshape((nplot, nplot))


# Create a model with the activations as the output
class ModelAct(nn.Module):
    def __init__(self, original_model):
        super(ModelAct, self).__init__()  # noqa: UP008 - the slides' spelling
        self.fc1 = original_model.fc1
        self.activation = original_model.activation

    def forward(self, x):
        x = self.fc1(x)
        x = self.activation(x)
        return x


model_act = ModelAct(model)
with torch.no_grad():
    zplot = model_act(torch.tensor(Xplot, dtype=torch.float32)).numpy()
    accuracy = torch.sum((model(X_torch) > 0.5) == y_int).item() / y_int.size(0)
print(model_act)
print(f"training accuracy after the tqdm loop: {accuracy:.4f}")  # not on the slides

if PLOTS:  # the slides show the figures inline; here they are saved as files
    import matplotlib  # noqa: E402

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: E402

    os.makedirs(PLOTS, exist_ok=True)
    # Plot the recovered region
    plt.imshow(np.flipud(yplot_mat), extent=[xmin[0],xmax[0],xmin[0],xmax[1]], cmap=plt.cm.Reds)
    plt.colorbar()

    # Overlay the samples
    I0 = np.where(y==0)[0]
    I1 = np.where(y==1)[0]
    plt.plot(X[I0,0], X[I0,1], 'bo')
    plt.plot(X[I1,0], X[I1,1], 'go')
    plt.savefig(os.path.join(PLOTS, "decision_region.png"))
    plt.close()

    fig, axes = plt.subplots(1, nh, figsize=(4 * nh, 4))
    for unit, ax in enumerate(axes):
        ax.imshow(np.flipud(zplot[:, unit].reshape((nplot, nplot))),
                  extent=[xmin[0],xmax[0],xmin[0],xmax[1]], cmap=plt.cm.Reds)
        ax.set_title(f"hidden unit {unit}")
    fig.savefig(os.path.join(PLOTS, "hidden_units.png"))
    print(f"plots written to {PLOTS}")
