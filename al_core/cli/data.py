"""``python -m al_core data SOURCE``: the data check (classes, counts, image size and
colour policy, test split, skipped files, logistic-regression floor) of a data set,
before any sweep runs on it (:mod:`al_core.datacheck`)."""

from __future__ import annotations

import argparse
import json


def cmd_data(args: argparse.Namespace) -> int:
    from al_core.datacheck import check_dataset, format_check

    check = check_dataset(
        args.source, pool_size=args.pool_size, test_size=args.test_size, seed=args.data_seed
    )
    if args.json:
        print(json.dumps(check.to_dict(), indent=2))
    else:
        print(format_check(check))
    return 0
