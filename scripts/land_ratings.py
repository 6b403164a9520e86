"""Land a public ratings file (MovieLens ``ratings.dat`` / ``u.data`` / ``ratings.csv``, or
any ``user item rating timestamp`` file) into the lake as daily interaction partitions.

    .venv/bin/python scripts/land_ratings.py path/to/ratings.dat [--use-case recommender]

Separator and header are detected; each UTC day becomes
``landing/<dataset>/dt=YYYY-MM-DD/part-000.parquet`` plus ``_SUCCESS``. Header names may
carry a type suffix (``user_id:token``, ``rating:float``, as in benchmark ``.inter`` files).
Then trigger ``recommender_training`` with ``day`` = the last landed day. Ratings must fit the schema's
range (0..5 in the bundled schema; pass your own use case (spec name or file) for other scales).
"""

from __future__ import annotations

import argparse
import sys

from mlops_core.config import Settings
from mlops_core.recsys.data import land_interactions, read_ratings_file
from mlops_core.schema import load_schema
from mlops_core.storage import storage_from_url


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--use-case", "--schema", dest="schema", default="recommender")
    parser.add_argument("--sep", default=None, help="separator (default: detected)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    storage = storage_from_url(settings.storage_url, settings.s3_endpoint_url)
    schema = load_schema(args.schema)
    frame = read_ratings_file(args.path, sep=args.sep)
    before = len(frame)
    frame = frame.drop_duplicates(["user_id", "item_id", "timestamp"])
    days = land_interactions(storage, schema, frame)
    print(
        f"landed {len(frame)} interactions ({before - len(frame)} exact duplicates dropped) "
        f"into {len(days)} days {days[0]}..{days[-1]} under {storage.uri('landing/' + schema.name)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
