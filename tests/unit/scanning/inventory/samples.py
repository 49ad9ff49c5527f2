"""Package databases and release files as the distributions write them (excerpts of real
files: Debian 12, Ubuntu 22.04, Alpine 3.20, Rocky Linux 9), for extractor and layer tests."""

from __future__ import annotations

DEBIAN_OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""

UBUNTU_OS_RELEASE = """\
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
"""

ALPINE_OS_RELEASE = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""

ROCKY_OS_RELEASE = """\
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
"""

# Four installed packages (one held, one with a Source of another version), one removed but
# with its configuration left, one half-removed: the last two are not on disk.
DPKG_STATUS = """\
Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u5
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Pre-Depends: awk
Breaks: debian-security-support (<< 2019.04.25), initscripts (<< 2.88dsf-13.3), sendfile (<< 2.1b.20080616-5.2~), usrmerge (<< 25)
Conffiles:
 /etc/debian_version d4d5d6b2a5bab0d0fa9e54d6d9bbb0f4
 /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,
 and the text of several common licenses in use on Debian systems.

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Depends: libgcc-s1
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: libssl3
Status: hold ok installed
Priority: optional
Section: libs
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries

Package: libsystemd0
Status: install ok installed
Architecture: amd64
Source: systemd (252.22-1~deb12u1)
Version: 252.22-1~deb12u1
Description: systemd utility library

Package: libgnutls30
Status: install ok installed
Architecture: amd64
Source: gnutls28 (3.7.9-2+deb12u2)
Version: 3.7.9-2+deb12u2+b1
Description: GNU TLS library - main runtime library

Package: nano
Status: deinstall ok config-files
Priority: important
Section: editors
Architecture: amd64
Version: 7.2-1
Conffiles:
 /etc/nanorc 12f3f7a3b2e4f35d5e3b1ab4e2e4e1a0
Description: small, friendly text editor inspired by Pico

Package: vim-tiny
Status: purge ok half-installed
Architecture: amd64
Source: vim
Version: 2:9.0.1378-2
Description: Vi IMproved - enhanced vi editor - compact version
"""

# distroless: one control file per package, no Status field.
DISTROLESS_LIBSSL = """\
Package: libssl3
Source: openssl
Version: 3.0.15-1~deb12u1
Architecture: amd64
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Installed-Size: 6260
Depends: libc6 (>= 2.34)
Section: libs
Priority: optional
Multi-Arch: same
Homepage: https://www.openssl.org/
Description: Secure Sockets Layer toolkit - shared libraries
"""

APK_INSTALLED = """\
C:Q1yB3CVUFMOjnLOOEqPx8ajdPd2tU=
P:musl
V:1.2.5-r0
A:x86_64
S:411220
I:652044
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1711380040
c:7be0ac0a8e8b2f9e1b7b5e0b5a7f5a0e9b4d1c32
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1LBtajFYg81dhEoSgFW6Zhmq2ZSo=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1QnbUu/9aqSeUTZzUE3Xs4CBC4g8=
P:busybox
V:1.36.1-r29
A:x86_64
S:509353
I:924248
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1717153584
D:so:libc.musl-x86_64.so.1
F:bin
R:busybox
a:0:0:755

C:Q1vQq9QnXqrT8EUn/gBUEblqB8vhk=
P:ssl_client
V:1.36.1-r29
A:x86_64
S:4963
I:14232
T:EXTERNAL ssl_client for busybox wget
o:busybox
D:so:libc.musl-x86_64.so.1 so:libcrypto.so.3 so:libssl.so.3
F:usr
F:usr/bin
R:ssl_client
a:0:0:755

C:Q1l8XOtxcmMhB6CZa8d4nfy0sG6Yk=
P:libcrypto3
V:3.3.2-r0
A:x86_64
o:openssl
"""

PYTHON_METADATA = """\
Metadata-Version: 2.1
Name: PyYAML
Version: 6.0.1
Summary: YAML parser and emitter for Python
Home-page: https://pyyaml.org/
License: MIT
Requires-Python: >=3.6

YAML is a data serialization format designed for human readability
Name: this is the body, not a header
"""

NPM_PACKAGE = """\
{
  "name": "@babel/core",
  "version": "7.24.4",
  "description": "Babel compiler core.",
  "main": "./lib/index.js",
  "dependencies": {"@babel/code-frame": "^7.24.2"}
}
"""
