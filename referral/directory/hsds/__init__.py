"""Exchange the directory as Open Referral HSDS 3.0, the tabular package and the JSON forms,
without losing anything.

Every row of every HSDS table that comes in is kept as the source wrote it (`HsdsRecord`);
the parts the tool uses are also turned into its own records (organisations, services,
areas, languages, phones, taxonomy terms, places and opening hours). An export writes the
tool's records over the kept rows: a value the tool has not changed goes out exactly as it
came in, so import then export gives back the source.

Import reads and checks everything first and writes only then, so a malformed source saves
nothing. Ids are the source's HSDS ids, so importing twice changes nothing.
"""

from referral.directory.hsds.exchange import Report, apply, check, export_tables, package_files
from referral.directory.hsds.source import HsdsError, read_source
from referral.directory.hsds.spec import DESCRIPTOR, EXTENSION

__all__ = ["DESCRIPTOR", "EXTENSION", "HsdsError", "Report", "apply", "check", "export_tables",
           "package_files", "read_source", "write_package", "zip_bytes"]


def write_package(path, files):
    """Write the package's files to a folder, or to a zip file when the path ends in .zip."""
    from pathlib import Path

    path = Path(path)
    if path.suffix == ".zip":
        path.write_bytes(zip_bytes(files))
    else:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (path / name).write_bytes(data)
    return files


def zip_bytes(files):
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            # A fixed timestamp: the same directory always gives the same zip.
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), files[name])
    return out.getvalue()
