#!/usr/bin/env python3
"""The independent side of TestDifferential: the files a person sees in
each message, found with Python's standard email package, tnef(1) for
winmail.dat, openssl for opaque S/MIME envelopes and olefile for Outlook
items attached as .msg files (read as MS-OXMSG lays them out: each
attachment's storage, an attached message's files in its place). Beyond what the email
package walks: an attached message sent in base64 or quoted-printable
(which RFC 2046 forbids and gateways send) is decoded and walked, the
Finder header fork of an AppleDouble file (RFC 1740) is no file, and the
encrypted data of a PGP/MIME message (RFC 3156) is one, named or not.

Usage: pyextract.py DIR; prints JSON {"message.eml": [[name, sha256], ...]}
for every .eml in DIR. A name is as decoded, not made safe; "" when the
sender gave none.
"""
import base64
import binascii
import email
import email.policy
import hashlib
import json
import olefile
import os
import struct
import quopri
import re
import subprocess
import sys
import tempfile
from email.header import decode_header, make_header

BEGIN = re.compile(rb"^begin [0-7]{3,4} (.*?)\r?$", re.M)


def decoded_name(part):
    name = part.get_filename()
    if name is None:
        return None
    name = str(name)
    if "=?" in name:  # encoded-words inside a quoted parameter, as mailers send them
        name = str(make_header(decode_header(name)))
    return name


def uu_blocks(text):
    """Files uuencoded in a text, begin to end, with binascii's decoder."""
    out = []
    for m in BEGIN.finditer(text):
        data = b""
        for line in text[m.end():].split(b"\n")[1:]:
            line = line.rstrip(b"\r")
            if line.strip() == b"end":
                break
            if line:
                data += binascii.a2b_uu(line)
        out.append((m.group(1).decode("latin-1").strip(), data))
    return out


def tnef_files(data):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "winmail.dat")
        with open(path, "wb") as f:
            f.write(data)
        out = os.path.join(d, "out")
        os.mkdir(out)
        listed = subprocess.run(["tnef", "-f", path, "--list"], check=True, capture_output=True).stdout
        subprocess.run(["tnef", "-f", path, "-C", out], check=True, capture_output=True)
        files = []
        for line in listed.split(b"\n"):  # in the stream's order: "name<TAB>|<TAB>file written"
            if not line:
                continue
            n, _, written = line.partition(b"\t|\t")
            with open(os.path.join(os.fsencode(out), written or n), "rb") as f:
                data = f.read()
            try:
                name = n.decode("utf-8")
            except UnicodeDecodeError:  # an 8-bit name, in the stream's code page
                name = n.decode("cp1252")
            files.append((name, data))
        return files


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def msg_files(data):
    """The files of an Outlook .msg, in order, those of attached messages
    in their place."""
    ole = olefile.OleFileIO(data)
    entries = [[n.upper() for n in e] for e in ole.listdir(streams=True, storages=True)]

    def has(path):
        return [n.upper() for n in path] in entries

    def string(path, prop, codepage):
        for typ, codec in (("001F", "utf-16-le"), ("001E", codepage)):
            p = path + ["__substg1.0_%s%s" % (prop, typ)]
            if has(p):
                return ole.openstream(p).read().decode(codec).split("\0")[0]
        return ""

    def message(path, header):
        props = ole.openstream(path + ["__properties_version1.0"]).read()[header:]
        codepage = "cp1252"
        for i in range(0, len(props) - 15, 16):
            typ, pid = struct.unpack_from("<HH", props, i)
            if pid == 0x3FFD and typ == 3:
                codepage = "cp%d" % struct.unpack_from("<I", props, i + 8)[0]
        out = []
        attachments = sorted({e[len(path)] for e in entries
                              if len(e) > len(path) and e[:len(path)] == [n.upper() for n in path]
                              and e[len(path)].startswith("__ATTACH_VERSION1.0_#")})
        for a in attachments:
            p = path + [a]
            if has(p + ["__substg1.0_3701000D"]):
                out += message(p + ["__substg1.0_3701000D"], 24)
                continue
            name = string(p, "3707", codepage) or string(p, "3704", codepage) or string(p, "3001", codepage)
            out.append((name, ole.openstream(p + ["__substg1.0_37010102"]).read()))
        return out

    return message([], 32)


def is_msg(ctype, name, data):
    return ctype == "application/vnd.ms-outlook" or (name or "").lower().endswith(".msg") and data.startswith(OLE_MAGIC)


def is_tnef(ctype, name):
    return ctype == "application/ms-tnef" or (name or "").lower() == "winmail.dat"


def opened(name, ctype, data):
    """The files in an Outlook item or a winmail.dat, those in the items
    and winmail.dat files inside it opened in turn (known by name)."""
    if is_msg(ctype, name, data):
        inside = msg_files(data)
    elif is_tnef(ctype, name):
        inside = tnef_files(data)
    else:
        return [(name, data)]
    return [f for n, d in inside for f in opened(n, "", d)]


def smime_content(data):
    r = subprocess.run(["openssl", "cms", "-verify", "-noverify", "-inform", "DER"],
                       input=data, capture_output=True)
    if r.returncode != 0:
        return None
    return r.stdout


def parts_of(msg, parent=None):
    """The leaves of msg in order, each with its parent's content type;
    the message inside a transfer-encoded message/rfc822 walked too."""
    if msg.get_content_type() == "message/rfc822":
        cte = str(msg.get("content-transfer-encoding", "")).strip().lower()
        if cte in ("base64", "quoted-printable"):
            body = msg.get_payload()[0].as_bytes()
            raw = base64.b64decode(body) if cte == "base64" else quopri.decodestring(body)
            yield from parts_of(email.message_from_bytes(raw, policy=email.policy.default), msg.get_content_type())
            return
    if msg.is_multipart():
        for sub in msg.get_payload():
            yield from parts_of(sub, msg.get_content_type())
        return
    yield msg, parent


def files_of(msg):
    out = []
    for part, parent in parts_of(msg):
        ctype = part.get_content_type()
        disp = part.get_content_disposition()
        name = decoded_name(part)
        payload = part.get_payload(decode=True) or b""
        if parent == "multipart/appledouble" and ctype == "application/applefile":
            continue
        if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
            inner = smime_content(payload)
            if inner is not None:
                out += files_of(email.message_from_bytes(inner, policy=email.policy.default))
                continue
        if is_msg(ctype, name, payload) or is_tnef(ctype, name):
            out += opened(name or "", ctype, payload)
            continue
        encrypted = parent == "multipart/encrypted" and ctype != "application/pgp-encrypted"
        if name is None and disp != "attachment" and not encrypted:
            if ctype == "text/plain":
                out += uu_blocks(payload)
            continue
        out.append((name or "", payload))
    return out


def main():
    d = sys.argv[1]
    result = {}
    for n in sorted(os.listdir(d)):
        if not n.endswith(".eml"):
            continue
        with open(os.path.join(d, n), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        result[n] = [[name, hashlib.sha256(data).hexdigest()] for name, data in files_of(msg)]
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)


main()
