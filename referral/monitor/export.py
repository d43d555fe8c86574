"""The monitor as one CSV: a row per figure, with the table it belongs to. Hidden figures stay
hidden; text that a spreadsheet would run as a formula is neutralised."""

import csv
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value):
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(tables):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["table", "row", "column", "value"])
    for table in tables:
        for label, cells in table.rows:
            for column, cell in zip(table.columns, cells, strict=True):
                writer.writerow([safe(table.title), safe(label), safe(column), safe(cell)])
        if table.total is not None:
            writer.writerow([safe(table.title), "total", "", safe(table.total)])
    return out.getvalue()
