"""Writes tests/fixtures/clinic.xlsx, the spreadsheet fixture of the loader
tests (run once; the .xlsx is committed). Needs openpyxl (pip install openpyxl).

Sheet "Export" (the first sheet): a title-free header row, numbers stored as
numbers and as text, an Excel date, empty cells, an 'NA' token, and a second
sheet "Notes" to test --sheet."""
import datetime
import openpyxl

wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Export"
ws.append(["client", "therapist", "pre", "post", "alliance", "referral"])
ws.append(["C01", "T1", 18, 9, 3.75, datetime.date(2024, 1, 15)])
ws.append(["C02", "T1", "21", 12, 4.1, datetime.date(2024, 2, 1)])
ws.append(["C03", "T2", 14, None, "NA", datetime.date(2024, 3, 9)])
ws.append(["C04", "T2", 16.0, 7, 4.5, datetime.date(2024, 4, 30)])
notes = wb.create_sheet("Notes")
notes.append(["key", "value"])
notes.append(["exported", "yes"])
wb.save("tests/fixtures/clinic.xlsx")
