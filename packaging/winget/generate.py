#!/usr/bin/env python3
"""Writes the winget manifests of a tokgateway release.

For each app (tokgateway-gateway -> winget id tokgateway.gateway,
tokgateway-gatewayd -> tokgateway.gatewayd) it writes the three files winget
wants (version, installer, defaultLocale, schema 1.9.0) under
OUT/manifests/t/tokgateway/<app>/<version>/. The installer is the release's
Windows zip (InstallerType zip, NestedInstallerType portable), so names, URLs,
the executable's path inside the zip and the version all come from cargo-dist's
dist-manifest.json; the package description and license from the crates'
Cargo.toml (cargo metadata).

The SHA-256 of each zip comes from, in this order of trust, all that are
available and which must then agree: the zip itself in --artifacts DIR, its
.sha256 file there, and the manifest's recorded checksum. None available is an
error, and so is any disagreement.

usage: generate.py --manifest dist-manifest.json [--artifacts DIR] --out DIR
"""

import argparse
import hashlib
import json
import pathlib
import subprocess
import sys

SCHEMA = "1.9.0"
TARGET = "x86_64-pc-windows-msvc"
PUBLISHER = "tokgateway"
LOCALE = "en-US"


def sha256_of(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def zip_sha256(name: str, artifact: dict, artifacts_dir: pathlib.Path | None) -> str:
    found = {}
    if artifacts_dir is not None:
        zip_path = artifacts_dir / name
        if zip_path.is_file():
            found["the zip"] = sha256_of(zip_path)
        sum_path = artifacts_dir / f"{name}.sha256"
        if sum_path.is_file():
            found[sum_path.name] = sum_path.read_text().split()[0].lower()
    recorded = artifact.get("checksums", {}).get("sha256")
    if recorded:
        found["dist-manifest.json"] = recorded.lower()
    if not found:
        sys.exit(f"generate.py: no SHA-256 for {name}: pass --artifacts with the zip or its .sha256")
    if len(set(found.values())) != 1:
        sys.exit(f"generate.py: SHA-256 of {name} disagree: {found}")
    digest = next(iter(found.values()))
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        sys.exit(f"generate.py: not a SHA-256 for {name}: {digest!r}")
    return digest


def quote(value: str) -> str:
    # JSON strings are valid YAML scalars: no escaping surprises.
    return json.dumps(value, ensure_ascii=False)


def write(path: pathlib.Path, schema_kind: str, fields: list[tuple[int, str]]) -> None:
    lines = [f"# yaml-language-server: $schema=https://aka.ms/winget-manifest.{schema_kind}.{SCHEMA}.schema.json", ""]
    lines += [("  " * indent) + text for indent, text in fields]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def package_metadata(root: pathlib.Path) -> dict:
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1",
         "--manifest-path", str(root / "Cargo.toml")],
        check=True, capture_output=True, text=True).stdout
    return {p["name"]: p for p in json.loads(out)["packages"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", required=True, type=pathlib.Path)
    ap.add_argument("--artifacts", type=pathlib.Path)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--root", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parents[2])
    args = ap.parse_args()

    manifest = json.loads(args.manifest.read_text())
    packages = package_metadata(args.root)
    releases = {r["app_name"]: r for r in manifest["releases"]}
    written = []
    for app in ("tokgateway-gateway", "tokgateway-gatewayd"):
        release = releases[app]
        version = release["app_version"]
        short = app.removeprefix("tokgateway-")
        ident = f"{PUBLISHER}.{short}"
        zip_name = next(a for a in release["artifacts"] if a == f"{app}-{TARGET}.zip")
        artifact = manifest["artifacts"][zip_name]
        exes = [a["path"] for a in artifact["assets"] if a["kind"] == "executable"]
        if len(exes) != 1:
            sys.exit(f"generate.py: {zip_name} should hold one executable, has {exes}")
        exe = exes[0]
        gh = release["hosting"]["github"]
        url = f"{gh['artifact_base_url']}{gh['artifact_download_path']}/{zip_name}"
        sha = zip_sha256(zip_name, artifact, args.artifacts).upper()
        pkg = packages[app]
        repo = pkg.get("repository") or pkg["homepage"]
        tag = manifest.get("announcement_tag") or f"v{version}"

        d = args.out / "manifests" / PUBLISHER[0] / PUBLISHER / short / version
        d.mkdir(parents=True, exist_ok=True)
        head = [(0, f"PackageIdentifier: {ident}"), (0, f"PackageVersion: {quote(version)}")]
        write(d / f"{ident}.yaml", "version", head + [
            (0, f"DefaultLocale: {LOCALE}"),
            (0, "ManifestType: version"),
            (0, f"ManifestVersion: {SCHEMA}"),
        ])
        installer = head + [
            (0, "InstallerType: zip"),
            (0, "NestedInstallerType: portable"),
            (0, "NestedInstallerFiles:"),
            (1, f"- RelativeFilePath: {quote(exe)}"),
            (1, f"  PortableCommandAlias: {short}"),
            (0, "Commands:"),
            (1, f"- {short}"),
        ]
        if app == "tokgateway-gatewayd":
            # One install gives both commands: the daemon brings the CLI.
            installer += [
                (0, "Dependencies:"),
                (1, "PackageDependencies:"),
                (2, f"- PackageIdentifier: {PUBLISHER}.gateway"),
                (2, f"  MinimumVersion: {quote(version)}"),
            ]
        installer += [
            (0, "Installers:"),
            (1, "- Architecture: x64"),
            (1, f"  InstallerUrl: {quote(url)}"),
            (1, f"  InstallerSha256: {sha}"),
            (0, "ManifestType: installer"),
            (0, f"ManifestVersion: {SCHEMA}"),
        ]
        write(d / f"{ident}.installer.yaml", "installer", installer)
        write(d / f"{ident}.locale.{LOCALE}.yaml", "defaultLocale", head + [
            (0, f"PackageLocale: {LOCALE}"),
            (0, f"Publisher: {quote(', '.join(pkg['authors']) or PUBLISHER)}"),
            (0, f"PublisherUrl: {quote(pkg['homepage'])}"),
            (0, f"PackageName: {quote(app)}"),
            (0, f"PackageUrl: {quote(pkg['homepage'])}"),
            (0, f"License: {quote(pkg['license'])}"),
            (0, f"LicenseUrl: {quote(repo + '/blob/main/LICENSE')}"),
            (0, f"ShortDescription: {quote(pkg['description'])}"),
            (0, f"Moniker: {short}"),
            (0, "Tags:"),
            (1, "- llm"), (1, "- gateway"), (1, "- openai"), (1, "- anthropic"),
            (0, f"ReleaseNotesUrl: {quote(repo + '/releases/tag/' + tag)}"),
            (0, "ManifestType: defaultLocale"),
            (0, f"ManifestVersion: {SCHEMA}"),
        ])
        written.append(d)
    for d in written:
        print(d)


if __name__ == "__main__":
    main()
