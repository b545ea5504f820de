"""Image columns (bytes or paths resolved against a root), content digests, replacing and user columns."""

import json

import numpy as np
import pytest

from lego_core.data.add_columns import add_item_columns, add_user_columns
from lego_core.data.depot import Column, Depot, image_column, image_path_column, text_column
from lego_core.errors import DataError
from lego_core.model.stores import ItemStore, attribute_of
from lego_core.testing import tiny_depot


@pytest.fixture
def depot_path(tmp_path):
    return tiny_depot(tmp_path / "d", num_items=60, num_users=15)


def test_image_bytes_are_stored_in_the_depot_and_read_back_undecoded(depot_path):
    blobs = [bytes([i, 255 - i]) * (i + 1) for i in range(60)]
    depot = add_item_columns(depot_path, {"image": image_column(blobs)}, provenance={"by": "test"})
    entry = depot.meta["tables"]["items"]["columns"]["image"]
    assert entry == {"kind": "image", "dtype": "uint8", "storage": "bytes"}
    assert depot.items.image_bytes("image") == blobs
    assert depot.items.image_bytes("image", [3, 0]) == [blobs[3], blobs[0]]


def test_image_paths_resolve_against_the_root_and_a_missing_file_names_row_and_folder(depot_path, tmp_path):
    raw = tmp_path / "raw"
    (raw / "img").mkdir(parents=True)
    for i in range(60):
        (raw / "img" / f"{i}.png").write_bytes(b"png%d" % i)
    absolute = tmp_path / "elsewhere.png"
    absolute.write_bytes(b"abs")
    paths = [f"img/{i}.png" for i in range(59)] + [str(absolute)]
    depot = add_item_columns(depot_path, {"image": image_path_column(paths, root=raw)})
    entry = depot.meta["tables"]["items"]["columns"]["image"]
    assert entry["storage"] == "path" and entry["root"] == str(raw.resolve())
    assert depot.items.image_bytes("image", [2, 59]) == [b"png2", b"abs"]
    (raw / "img" / "5.png").unlink()
    with pytest.raises(DataError, match=r"row 5: cannot read the image .*5\.png.*relative to .*raw"):
        Depot(depot_path).items.image_bytes("image")


def test_an_image_column_is_an_item_attribute_that_the_store_leaves_to_the_operator(depot_path):
    depot = add_item_columns(depot_path, {"image": image_column([b"x"] * 60)})
    attribute = attribute_of(depot, "items", "image", 32, "test")
    assert attribute.kind == "image"
    store = ItemStore(depot, {"image": attribute, "title": attribute_of(depot, "items", "title", 8, "test")})
    assert "image" not in store.tokens and "image" not in store.categories and "title" in store.tokens
    with pytest.raises(DataError, match="only text"):
        attribute_of(depot, "items", "title_text", 8, "test")


def test_column_requires_storage_for_images_only():
    with pytest.raises(ValueError, match="storage"):
        Column(kind="image", data=image_column([b"x"]).data)
    with pytest.raises(ValueError, match="storage"):
        Column(kind="text", data=text_column(["x"]).data, storage="bytes")


def test_digest_follows_the_contents_not_the_name(depot_path):
    depot = Depot(depot_path)
    first = depot.items.digest("title_text")
    assert first == Depot(depot_path).items.digest("title_text")  # stable across openings
    assert first != depot.items.digest("abstract_text")
    strings = depot.items.strings("title_text")
    add_item_columns(depot_path, {"title_text": text_column([s.upper() for s in strings])}, replace=True)
    again = Depot(depot_path)
    assert again.items.strings("title_text")[0] == strings[0].upper()
    assert again.items.digest("title_text") != first


def test_replacing_needs_the_flag_and_the_same_kind(depot_path):
    n = Depot(depot_path).items.num_rows
    with pytest.raises(DataError, match="already has a column 'title_text'"):
        add_item_columns(depot_path, {"title_text": text_column(["x"] * n)})
    with pytest.raises(DataError, match="a replacement must be too"):
        add_item_columns(depot_path, {"title_text": image_column([b"x"] * n)}, replace=True)


def test_user_columns_are_added_under_their_table(depot_path):
    depot = Depot(depot_path)
    rows = depot.users.num_rows
    with pytest.raises(DataError, match="has 3 rows, the users table 15"):
        add_user_columns(depot_path, {"profile_text": text_column(["x"] * 3)})
    depot = add_user_columns(
        depot_path, {"profile_text": text_column([f"likes {i}" for i in range(rows)])}, provenance={"by": "test"}
    )
    assert depot.users.strings("profile_text")[2] == "likes 2"
    meta = json.loads((depot_path / "meta.json").read_text())
    assert meta["added_columns"]["users.profile_text"] == {"by": "test"}
    assert np.asarray(depot.users["history"].offsets).shape == (rows + 1,)
