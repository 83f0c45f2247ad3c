import uuid
from pathlib import Path

import pytest

from sinks.config import ClickHouseTarget


@pytest.fixture(scope="session")
def chdb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one chDB data folder of the test session.

    chDB hosts a single engine per process, bound to one folder: every test that opens chDB
    in the pytest process shares this folder and isolates itself by database.
    """
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def clickhouse_target(chdb_folder: Path) -> ClickHouseTarget:
    """An embedded target with a database of its own."""
    return ClickHouseTarget(dsn=f"chdb://{chdb_folder}", database=f"test_{uuid.uuid4().hex[:12]}")
