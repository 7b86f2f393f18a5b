"""The ``neuralab`` command line."""

from __future__ import annotations

import argparse
import sys


def _demo(args) -> int:
    """Train the lecture's 2-4-1 sigmoid network on its synthetic 2-D data."""
    import neuralab as nl
    from neuralab.datasets import make_lecture_synthetic
    from neuralab.layers import Dense

    nl.set_seed(args.seed)
    x, y = make_lecture_synthetic(400, seed=args.seed)
    model = nl.Sequential([Dense(4, activation="sigmoid", input_shape=(2,), name="hidden"),
                           Dense(1, activation="sigmoid", name="output")])
    model.summary()
    model.compile(optimizer=nl.optimizers.Adam(learning_rate=0.03), loss="binary_crossentropy",
                  metrics=["accuracy"])
    print(f"\nTraining on {len(x)} points for {args.epochs} epochs (batch 100, Adam 0.03)\n")
    history = model.fit(x, y, epochs=args.epochs, batch_size=100, verbose=0)
    every = max(1, args.epochs // 20)
    print("epoch      loss  accuracy")
    for epoch in range(every - 1, args.epochs, every):
        print(f"{epoch + 1:5d}  {history.history['loss'][epoch]:8.4f}  "
              f"{history.history['accuracy'][epoch]:8.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small network on generated data and print its "
                                       "learning curve")
    demo.add_argument("--epochs", type=int, default=1000)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
