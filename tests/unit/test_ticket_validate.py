"""What seats and ops send is checked, and each refusal names the field and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.tickets import validate
from hotline.tickets.model import Category, Urgency, guided_label
from hotline.tickets.units import UnitFileError, load_units, parse_csv, parse_yaml
from hotline.tickets.validate import InvalidInput, normalise_phone


@pytest.mark.parametrize(
    ("raw", "short", "number"),
    [
        ("13800138000", False, "13800138000"),
        ("138 0013 8000", False, "13800138000"),
        ("138-0013-8000", False, "13800138000"),
        ("+86 138 0013 8000", False, "13800138000"),
        ("8613800138000", False, "13800138000"),
        ("0571-87001234", False, "057187001234"),
        ("0571-8700123", False, "05718700123"),  # 7-digit local number
        ("010-88886666", False, "01088886666"),
        ("(021) 6888 6666", False, "02168886666"),
        ("+86 10 8888 6666", False, "01088886666"),
        ("12800138000", False, None),  # 12x is no mobile prefix
        ("1380013800", False, None),  # 10 digits
        ("138001380001", False, None),  # 12 digits
        ("88886666", False, None),  # no area code
        ("010-08886666", False, None),  # a local number never starts with 0
        ("0571-87001234567", False, None),
        ("anonymous", False, None),
        ("110", False, None),
        ("110", True, "110"),
        ("12348", True, "12348"),
        ("95598", True, "95598"),
        ("1234", True, None),
    ],
)
def test_phone_numbers(raw: str, short: bool, number: str | None) -> None:
    assert normalise_phone(raw, short=short) == number


BODY = {"caller_number": "13800138000", "content": "小区门口夜间施工噪音扰民", "category": "投诉举报"}


def refused(body: dict[str, object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        validate.new_ticket(body)
    return err.value


def test_a_good_ticket() -> None:
    t = validate.new_ticket({**BODY, "caller_number": "138 0013 8000", "urgency": "urgent", "district": " 东湖区 "})
    assert (t.caller_number, t.category, t.urgency, t.district) == (
        "13800138000",
        Category.COMPLAINT,
        Urgency.URGENT,
        "东湖区",
    )
    assert t.guided_to is None and not t.direct


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"category": "投诉"}, "category", "category: '投诉' is not one of 建议, 一般诉求, 求助, 投诉举报, 咨询, 表扬"),
        ({"category": None}, "category", "category: required, one of 建议"),
        (
            {"caller_number": "12345678"},
            "caller_number",
            "caller_number: '12345678' is not a phone number: give a mobile",
        ),
        ({"caller_number": None}, "caller_number", "caller_number: required"),
        ({"content": "   "}, "content", "content: required, and must not be blank"),
        ({"content": "很" * 2001}, "content", "content: at most 2000 characters, got 2001"),
        ({"urgency": "high"}, "urgency", "urgency: 'high' is not one of normal, urgent, emergency"),
        ({"convenience": "yes"}, "convenience", "convenience: must be true or false"),
        ({"seat": "agent-1"}, "seat", "seat: 'agent-1' is not a seat extension"),
        ({"catgory": "咨询"}, "catgory", "catgory: unknown field; did you mean 'category'?"),
        ({"caller_name": 3}, "caller_name", "caller_name: must be text, not int"),
        ({"guided_to": "abc"}, "guided_to", "guided_to: 'abc' is not a phone number"),
        ({"guided_to": "110", "direct": True}, "direct", "direct: an out-of-scope record"),
    ],
)
def test_refusals_name_the_field_and_the_rule(change: dict[str, object], field: str, message: str) -> None:
    err = refused({**BODY, **change})
    assert err.problems[0].field == field
    assert message in str(err)


def test_every_problem_is_reported_at_once() -> None:
    err = refused({"caller_number": "1", "category": "x"})
    assert [p.field for p in err.problems] == ["caller_number", "content", "category"]
    assert err.to_details()["field"] == "caller_number"


def test_out_of_scope_records_need_no_category() -> None:
    t = validate.new_ticket({"caller_number": "13800138000", "content": "家中失窃", "guided_to": "110"})
    assert t.guided_to == "110" and t.category is None
    assert guided_label("110") == "公安报警" and guided_label("12315") == "other"


def test_a_ticket_bound_to_a_call_may_leave_the_number_to_the_call() -> None:
    t = validate.new_ticket({"call_id": "1764032523.11", "content": "咨询社保", "category": "咨询"})
    assert t.call_id == "1764032523.11" and t.caller_number == ""


def test_edits_and_transitions() -> None:
    assert validate.ticket_changes({"address": "东湖路 1 号", "by": "8001"}) == {"address": "东湖路 1 号", "by": "8001"}
    with pytest.raises(InvalidInput, match="body: nothing to change"):
        validate.ticket_changes({"by": "8001"})
    with pytest.raises(InvalidInput, match="category: 'x' is not one of"):
        validate.ticket_changes({"category": "x"})
    assert validate.transition_fields({"to": "派单", "by": "8001", "unit_id": 3}) == ("派单", "8001", 3, None)
    with pytest.raises(InvalidInput, match="unit_id: 'three' is not a unit id") as err:
        validate.transition_fields({"to": "派单", "by": "8001", "unit_id": "three"})
    assert [p.field for p in err.value.problems] == ["unit_id"]
    with pytest.raises(InvalidInput, match=r"to: required.*by: required"):
        validate.transition_fields({})


def test_units() -> None:
    unit = validate.unit({"name": "东湖区城市管理局", "area": "东湖区", "phones": "0571-86102000; 13800571200"})
    assert unit.phones == ("057186102000", "13800571200") and unit.categories == ()
    with pytest.raises(InvalidInput, match="phones: at least one phone number"):
        validate.unit({"name": "x", "area": "市直", "phones": []})
    with pytest.raises(InvalidInput, match="categories: '投诉' is not one of"):
        validate.unit({"name": "x", "area": "市直", "phones": ["0571-86102000"], "categories": ["投诉"]})


def test_the_sample_units_file_loads() -> None:
    units = load_units(Path(validate.__file__).resolve().parent.parent / "data" / "units.yaml")
    assert len(units) >= 8
    assert {u.area for u in units} >= {"市直", "东湖区", "西岭区", "北川县"}
    housing = next(u for u in units if u.name == "江城市住房和城乡建设局")
    assert "物业" in housing.topics and Category.COMPLAINT in housing.categories and housing.phones[0] == "057187001200"


YAML = """\
units:
  - name: 市住建局
    area: 市直
    phones: ["0571-87001200"]
  - name: 东湖区城管局
    area: 东湖区
    phones: ["0571-861"]
    categories: [投诉举报, 吐槽]
  - name: 市住建局
    area: 市直
    phones: ["0571-87001299"]
"""


def test_a_units_file_with_mistakes_names_every_line_and_loads_nothing() -> None:
    with pytest.raises(UnitFileError) as err:
        parse_yaml(YAML, "units.yaml")
    text = str(err.value)
    assert "3 problem(s)" in text
    assert "units.yaml:7: unit '东湖区城管局': phones: '0571-861' is not a phone number" in text
    assert "units.yaml:8: unit '东湖区城管局': categories: '吐槽' is not one of" in text
    assert "units.yaml:9: unit '市住建局': the same name as the unit on line 2" in text


def test_yaml_that_is_not_yaml_names_the_line() -> None:
    with pytest.raises(UnitFileError, match=r"units.yaml:3: not valid YAML"):
        parse_yaml("units:\n  - name: a\n\tarea: b\n", "units.yaml")
    with pytest.raises(UnitFileError, match="must hold `units:`"):
        parse_yaml("- name: a\n", "units.yaml")


def test_csv_units_with_line_numbers() -> None:
    text = (
        "\ufeffname,area,phones,categories,topics,hours\n"
        "市住建局,市直,0571-87001200;0571-87001201,投诉举报;求助,物业、电梯,周一至周五\n"
        "\n"
        "东湖区城管局,东湖区,12,,,\n"
    )
    with pytest.raises(UnitFileError, match=r"units.csv:4: unit '东湖区城管局': phones: '12' is not a phone number"):
        parse_csv(text.lstrip("\ufeff"), "units.csv")
    good = parse_csv(text.lstrip("\ufeff").replace(",12,", ",0571-86102000,"), "units.csv")
    assert [u.name for u in good] == ["市住建局", "东湖区城管局"]
    assert good[0].topics == ("物业", "电梯") and good[0].phones == ("057187001200", "057187001201")
    with pytest.raises(UnitFileError, match=r"units\.csv:1: the header .* unknown: phone; missing: phones"):
        parse_csv("name,area,phone\na,b,c\n", "units.csv")


def test_a_csv_saved_by_excel_keeps_its_first_column(tmp_path: Path) -> None:
    file = tmp_path / "units.csv"
    file.write_text("\ufeffname,area,phones\n市住建局,市直,0571-87001200\n", encoding="utf-8")
    assert load_units(file)[0].name == "市住建局"
    with pytest.raises(UnitFileError, match=r"ends in \.yaml, \.yml or \.csv"):
        load_units(tmp_path / "units.txt")
