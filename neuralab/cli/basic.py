"""``neuralab demo`` and ``neuralab data list|get|info``."""

from __future__ import annotations

from .errors import UsageError


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


def _data_list(args) -> int:
    from neuralab.datasets import catalog, download
    rows = [("name", "size", "source", "where", "present")]
    for entry in catalog.CATALOG:
        where, present = catalog.status(entry)
        rows.append((entry.name, entry.size, entry.source, where, present))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"\ncache folder: {download.data_home()} (set NEURALAB_DATA to move it)")
    return 0


def _data_get(args) -> int:
    from neuralab.datasets import catalog, download
    names = {e.name: e for e in catalog.CATALOG}
    if args.name not in names:
        raise UsageError(f"unknown dataset {args.name!r}; known: {sorted(names)}")
    entry = names[args.name]
    if entry.source != "download":
        raise UsageError(f"{args.name} is not downloadable ({entry.description}); pass your local "
                         "copy's path to its loader instead")
    folder = download.fetch(args.name, force=args.force, progress=not args.quiet)
    print(f"{args.name}: ready in {folder}")
    return 0


def _data_info(args) -> int:
    from neuralab.datasets import catalog
    print(catalog.describe(args.path))
    return 0


def register(sub) -> None:
    demo = sub.add_parser("demo", help="train a small network on generated data and print its "
                                       "learning curve")
    demo.add_argument("--epochs", type=int, default=1000)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)

    data = sub.add_parser("data", help="list, download and inspect datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    data_sub.add_parser("list", help="known datasets: size, cache location, presence").set_defaults(
        func=_data_list)
    get = data_sub.add_parser("get", help="download a public dataset into the cache")
    get.add_argument("name")
    get.add_argument("--force", action="store_true", help="download again even if present")
    get.add_argument("--quiet", action="store_true", help="no progress bar")
    get.set_defaults(func=_data_get)
    info = data_sub.add_parser("info", help="shapes, dtypes, classes and counts of a data path")
    info.add_argument("path", help="a dataset folder or file, or a cached dataset's name")
    info.set_defaults(func=_data_info)
