"""The field parsers shared by the import and the forms: clean values in, clinician-readable refusals out."""

from datetime import date, datetime

import pytest

from tracker.clinic_dates import parse_date
from tracker.errors import ValidationError
from tracker.validation import (
    check_not_before_birth,
    check_not_in_future,
    parse_birth_date,
    parse_condition,
    parse_density,
    parse_full_name,
    parse_lot_number,
    parse_mrn,
    parse_product,
    parse_sex,
    parse_site,
    parse_treatment,
)

TODAY = date(2025, 6, 1)


def refusal(parse, *args, **kwargs) -> str:
    with pytest.raises(ValidationError) as caught:
        parse(*args, **kwargs)
    assert caught.value.problems == [str(caught.value)]
    return str(caught.value)


# --- dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("2025-03-14", date(2025, 3, 14)),
    ("  2024-02-29 ", date(2024, 2, 29)),
    (date(2025, 1, 2), date(2025, 1, 2)),
    (datetime(2025, 1, 2, 0, 0), date(2025, 1, 2)),  # what openpyxl returns for a date cell
    (datetime(2025, 1, 2, 15, 30), date(2025, 1, 2)),
])
def test_iso_dates_and_spreadsheet_date_cells_are_accepted(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value, reason", [
    ("2025-02-30", "February 2025 has 28 days"),
    ("2023-02-29", "February 2023 has 28 days"),
    ("2025-04-31", "April 2025 has 30 days"),
    ("2025-13-01", "there is no month 13"),
    ("0000-01-01", "there is no year 0"),
    ("02/03/2025", "is not written YYYY-MM-DD, which could be read two ways; type it as YYYY-MM-DD, for example "
                   "2026-08-20"),
    ("20/08/2026", "is not written YYYY-MM-DD;"),  # became 2008-02-06 in the old date picker
    ("14.03.2025", "is not written YYYY-MM-DD;"),
    ("2025-03-14T10:00", "is not a date: type it as YYYY-MM-DD"),
    ("March 14 2025", "is not a date: type it as YYYY-MM-DD"),
    (45678, "is not a date: type it as YYYY-MM-DD"),  # a date cell formatted as a plain number in Excel
])
def test_other_date_spellings_and_impossible_dates_are_refused(value, reason):
    message = refusal(parse_date, value, label="birth_date")
    assert message.startswith("birth_date ")
    assert reason in message


@pytest.mark.parametrize("setting, typed, expected", [
    ("DD/MM/YYYY", "20/08/2026", date(2026, 8, 20)),
    ("DD/MM/YYYY", "14/03/1985", date(1985, 3, 14)),  # became 1403-09-05 in the old date picker
    ("DD/MM/YYYY", "02/03/2025", date(2025, 3, 2)),
    ("DD/MM/YYYY", "2/3/2025", date(2025, 3, 2)),
    ("MM/DD/YYYY", "02/03/2025", date(2025, 2, 3)),
    ("MM/DD/YYYY", "08/20/2026", date(2026, 8, 20)),
    ("dd/mm/yyyy", "2026-08-20", date(2026, 8, 20)),  # YYYY-MM-DD cannot be misread: accepted everywhere
])
def test_a_date_is_read_in_the_clinics_format(monkeypatch, setting, typed, expected):
    monkeypatch.setenv("TRACKER_DATE_FORMAT", setting)
    assert parse_date(typed) == expected


@pytest.mark.parametrize("setting, typed, reason", [
    ("DD/MM/YYYY", "08/20/2026", "there is no month 20 (type it as DD/MM/YYYY, for example 20/08/2026)"),
    ("MM/DD/YYYY", "20/08/2026", "there is no month 20 (type it as MM/DD/YYYY, for example 08/20/2026)"),
    ("DD/MM/YYYY", "20/08/26", "is not written DD/MM/YYYY; type it as DD/MM/YYYY"),  # two-digit year: 1926?
    ("DD/MM/YYYY", "31/04/2026", "April 2026 has 30 days"),
])
def test_a_date_not_in_the_clinics_format_is_refused_never_reinterpreted(monkeypatch, setting, typed, reason):
    monkeypatch.setenv("TRACKER_DATE_FORMAT", setting)
    assert reason in refusal(parse_date, typed, label="visit date")


def test_an_unknown_date_format_setting_is_named(monkeypatch):
    monkeypatch.setenv("TRACKER_DATE_FORMAT", "DD.MM.YY")
    assert refusal(parse_date, "2026-08-20") == (
        "TRACKER_DATE_FORMAT 'DD.MM.YY' is not a date format this product knows: set it to YYYY-MM-DD, "
        "DD/MM/YYYY, MM/DD/YYYY (the default is YYYY-MM-DD)"
    )


@pytest.mark.parametrize("value", ["", "   ", None])
def test_a_missing_date_is_required(value):
    assert refusal(parse_date, value, label="date") == (
        "date is required (type it as YYYY-MM-DD, for example 2026-08-20)"
    )


@pytest.mark.parametrize("typed, expected", [("58,3", 58.3), ("120,5", 120.5), (" 58.3 ", 58.3), ("152", 152.0)])
def test_a_decimal_comma_is_a_decimal_separator_never_dropped(typed, expected):
    assert parse_density(typed) == expected  # "58,3" became 583 in the old number field


@pytest.mark.parametrize("typed", ["1.234,5", "58,3,1", "58 ,3"])
def test_a_number_with_two_separators_is_refused(typed):
    assert "is not a number" in refusal(parse_density, typed)


def test_a_date_may_be_today_but_not_later():
    assert check_not_in_future(TODAY, TODAY) == TODAY
    assert refusal(check_not_in_future, date(2025, 6, 2), TODAY) == (
        "date 2025-06-02 is in the future (today is 2025-06-01)"
    )


def test_birth_date_is_neither_in_the_future_nor_more_than_120_years_ago():
    assert parse_birth_date("1905-06-01", TODAY) == date(1905, 6, 1)
    assert "more than 120 years ago" in refusal(parse_birth_date, "1905-05-31", TODAY)
    assert "in the future" in refusal(parse_birth_date, "2025-06-02", TODAY)
    assert "birth date '1980-02-30' is not a real date" in refusal(parse_birth_date, "1980-02-30", TODAY)


def test_a_session_or_visit_may_not_precede_the_birth():
    born = date(1980, 5, 1)
    assert check_not_before_birth(born, born) == born
    assert refusal(check_not_before_birth, date(1980, 4, 30), born, label="visit date") == (
        "visit date 1980-04-30 is before the patient's birth date 1980-05-01"
    )


# --- identity ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (" RT-0042 ", "RT-0042"),
    ("a_1", "a_1"),
    ("X" * 40, "X" * 40),
    (1234, "1234"),
    (1234.0, "1234"),  # Excel turned the MRN into a number
])
def test_mrns(value, expected):
    assert parse_mrn(value) == expected


@pytest.mark.parametrize("value, reason", [
    ("", "MRN is required"),
    (None, "MRN is required"),
    ("RT 42", "may contain only letters, digits, '-' and '_'"),
    ("RT/42", "may contain only letters, digits, '-' and '_'"),
    ("=1+1", "may contain only letters, digits, '-' and '_'"),
    ("X" * 41, "too long: at most 40 characters"),
    (date(2025, 1, 2), "holds a date"),
])
def test_bad_mrns(value, reason):
    assert reason in refusal(parse_mrn, value)


def test_full_name_is_trimmed_and_limited():
    assert parse_full_name("  Jane   van  Doe ") == "Jane van Doe"
    assert parse_full_name("=HYPERLINK(\"x\")") == "=HYPERLINK(\"x\")"  # text, never evaluated
    assert parse_full_name("N" * 200) == "N" * 200
    assert refusal(parse_full_name, "  ") == "full name is required"
    assert "at most 200 characters (it has 201)" in refusal(parse_full_name, "N" * 201)
    assert "control character" in refusal(parse_full_name, "Jane\x07Doe")


@pytest.mark.parametrize("value, expected", [("female", "female"), (" MALE ", "male"), ("Other", "other"),
                                             ("Unknown", "unknown")])
def test_sex(value, expected):
    assert parse_sex(value) == expected


@pytest.mark.parametrize("value", ["f", "x", ""])  # letters are the spreadsheets' (patient_fields.SEX_CODES)
def test_bad_sex_lists_the_choices(value):
    assert "female, male, other, unknown" in refusal(parse_sex, value)


@pytest.mark.parametrize("value, expected", [
    ("androgenetic_alopecia", "androgenetic_alopecia"),
    ("Alopecia Areata", "alopecia_areata"),
    ("telogen-effluvium", "telogen_effluvium"),
    ("other", "other"),
])
def test_condition(value, expected):
    assert parse_condition(value) == expected


def test_bad_condition_lists_the_choices():
    assert refusal(parse_condition, "baldness") == (
        "condition 'baldness' is not one of androgenetic_alopecia, alopecia_areata, telogen_effluvium, other"
    )


# --- treatments --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [("exosome", "exosome"), ("PRP", "prp"), (" Other ", "other")])
def test_treatment(value, expected):
    assert parse_treatment(value) == expected


def test_bad_treatment():
    assert refusal(parse_treatment, "laser") == "treatment 'laser' is not one of exosome, prp, other"


def test_lot_number_is_required_for_exosome_sessions_only():
    assert parse_lot_number(" EX-2025-001 ", "exosome") == "EX-2025-001"
    assert parse_lot_number("", "prp") == ""
    assert parse_lot_number(None, "other") == ""
    assert parse_lot_number("", None) == ""  # the treatment itself was wrong: that is reported instead
    assert "recalled" in refusal(parse_lot_number, "", "exosome")
    assert "at most 80 characters" in refusal(parse_lot_number, "L" * 81, "prp")
    assert "holds a date" in refusal(parse_lot_number, datetime(2024, 1, 1), "exosome")


def test_product_is_optional_and_limited():
    assert parse_product(None) == ""
    assert parse_product(" ExoGen  5 ") == "ExoGen 5"
    assert "at most 200 characters" in refusal(parse_product, "P" * 201)


# --- measurements ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("150", 150.0), (" 152.5 ", 152.5), ("600", 600.0), ("0.1", 0.1), (".5", 0.5), (600, 600.0), (98.25, 98.25),
])
def test_density(value, expected):
    assert parse_density(value) == expected


@pytest.mark.parametrize("value, reason", [
    ("0", "density 0 is out of range: it must be more than 0 and at most 600 hairs/cm²"),
    ("-5", "density -5 is out of range: it must be more than 0 and at most 600 hairs/cm²"),
    ("601", "density 601 is out of range: it must be more than 0 and at most 600 hairs/cm²"),
    (0, "density 0 is out of range: it must be more than 0 and at most 600 hairs/cm²"),
    ("abc", "density 'abc' is not a number (more than 0 and at most 600 hairs/cm²)"),
    ("nan", "density 'nan' is not a number (more than 0 and at most 600 hairs/cm²)"),
    ("inf", "density 'inf' is not a number (more than 0 and at most 600 hairs/cm²)"),
    ("1_50", "density '1_50' is not a number (more than 0 and at most 600 hairs/cm²)"),
    ("=100+50", "density '=100+50' is not a number (more than 0 and at most 600 hairs/cm²)"),
    (float("nan"), "density 'nan' is not a number (more than 0 and at most 600 hairs/cm²)"),
    (True, "density 'True' is not a number (more than 0 and at most 600 hairs/cm²)"),
    ("1.152,5", "density '1.152,5' is not a number (more than 0 and at most 600 hairs/cm²)"),
    ("", "density is required: a number more than 0 and at most 600 hairs/cm²"),
])
def test_bad_density_says_both_bounds_or_what_is_wrong(value, reason):
    assert refusal(parse_density, value) == reason


@pytest.mark.parametrize("value, expected", [
    (None, "primary"), ("", "primary"), (" Vertex ", "vertex"), ("left_temporal", "left_temporal"),
    ("zone-2", "zone-2"),
])
def test_site(value, expected):
    assert parse_site(value) == expected


@pytest.mark.parametrize("value, reason", [
    ("left temporal", "may contain only letters, digits, '_' and '-'"),
    ("vertex!", "may contain only letters, digits, '_' and '-'"),
    ("s" * 61, "at most 60 characters"),
])
def test_bad_site(value, reason):
    assert reason in refusal(parse_site, value)
