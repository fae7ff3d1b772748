import math

import pytest
import torch

from flash.core.targets import TargetFormatter
from flash.errors import DataError


def test_string_labels_single():
    f = TargetFormatter.infer(["cat", "dog", "cat"])
    assert (f.labels, f.num_classes, f.multi_label) == (["cat", "dog"], 2, False)
    assert f("dog") == 1


def test_int_labels():
    f = TargetFormatter.infer([0, 2, 1])
    assert (f.num_classes, f.multi_label, f.labels) == (3, False, None)
    assert f(2) == 2


def test_comma_separated_multi_label():
    f = TargetFormatter.infer(["cat,dog", "dog", "bird"])
    assert f.multi_label and f.labels == ["bird", "cat", "dog"]
    assert f("cat,dog").tolist() == [0.0, 1.0, 1.0]


def test_space_separated_multi_label_inferred():
    f = TargetFormatter.infer(["cat dog", "dog", "cat", "dog cat"])
    assert f.multi_label and f.labels == ["cat", "dog"]
    assert f("dog cat").tolist() == [1.0, 1.0]


def test_multi_word_single_labels_stay_single():
    f = TargetFormatter.infer(["new york", "los angeles", "new york"])
    assert not f.multi_label and f.labels == ["los angeles", "new york"]


def test_one_hot_and_multi_hot():
    one = TargetFormatter.infer([[1, 0, 0], [0, 0, 1]])
    assert not one.multi_label and one([0, 1, 0]) == 1
    multi = TargetFormatter.infer([[1, 1, 0], [0, 0, 1]])
    assert multi.multi_label and torch.equal(multi([1, 0, 1]), torch.tensor([1.0, 0.0, 1.0]))


def test_lists_of_names():
    f = TargetFormatter.infer([["a", "b"], ["c"]])
    assert f.multi_label and f(["c", "a"]).tolist() == [1.0, 0.0, 1.0]


def test_unknown_label_names_value_and_known_labels():
    f = TargetFormatter.infer(["cat", "dog"])
    with pytest.raises(DataError, match=r"Unknown label 'cow' in the val data.*\['cat', 'dog'\]"):
        f("cow", where="the val data")


def test_missing_and_mixed_targets():
    with pytest.raises(DataError, match="missing"):
        TargetFormatter.infer(["a", math.nan])
    with pytest.raises(DataError, match="mix types"):
        TargetFormatter.infer(["a", 1])
    with pytest.raises(DataError, match="outside 0..2"):
        TargetFormatter.infer([0, 1, 2])(5)
