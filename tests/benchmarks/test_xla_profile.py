"""benchmarks.xla_profile: op times from trace events, and result shapes from HLO text."""

import pytest

from benchmarks import xla_profile


def test_op_times_sum_each_op_per_call_and_leave_the_runtime_out():
    events = [{"name": "fusion.1", "dur": 300.0}, {"name": "fusion.1", "dur": 100.0},
              {"name": "dot.2", "dur": 600.0}, {"name": "ThunkExecutor::Execute", "dur": 9e6},
              {"name": "$api.py:1 block_until_ready", "dur": 9e6}]
    ops = xla_profile.op_times(events, calls=2)
    assert [op.name for op in ops] == ["dot.2", "fusion.1"]
    by_name = {op.name: op for op in ops}
    assert by_name["fusion.1"].ms_per_call == pytest.approx(0.2)
    assert by_name["fusion.1"].count_per_call == 1
    assert by_name["dot.2"].share == pytest.approx(0.6)


def test_hlo_shapes_reads_each_ops_result_shape():
    text = ("  %ynn_fusion = f32[4000,30]{1,0} fusion(%a, %b), kind=kCustom\n"
            "  ROOT %dot.3 = f32[8,2]{1,0} dot(%x, %y)\n")
    assert xla_profile.hlo_shapes(text) == {"ynn_fusion": "f32[4000,30]{1,0}",
                                            "dot.3": "f32[8,2]{1,0}"}
