#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The documentation of the action plugin plugins/action/report_files.py (it runs no module).

from __future__ import annotations

DOCUMENTATION = r"""
module: report_files
short_description: Write text files on the controller without running a module
version_added: 0.1.0
description:
  - Writes each entry of O(files) as a file in O(dir) on the controller, atomically, and only when its content
    or mode differs.
  - Runs in the controller's own process, like M(ansible.builtin.debug), so no module process is started per file,
    where M(ansible.builtin.copy) and M(ansible.builtin.template) start two per file. The role
    C(keyless.aws.ec2_identity) writes its reports and run summary with it.
  - Render a template with the C(ansible.builtin.template) lookup and pass the text as content.
author: keyless.aws maintainers (@keyless-aws)
options:
  dir:
    description:
      - The directory on the controller; created (with its parents) if missing.
    type: path
    required: true
  files:
    description:
      - File name (no directory part) to its text content; a newline is added at the end if the content has none.
    type: dict
    required: true
  mode:
    description:
      - The files' permissions, as an octal string.
    type: str
    default: "0644"
attributes:
  action:
    support: full
    description: Runs entirely as an action plugin on the controller.
  check_mode:
    support: full
    description: Writes nothing in check mode unless the task sets C(check_mode=false) (reports are written under C(--check) so).
  diff_mode:
    support: none
    description: Returns the paths written (RV(written)), not a diff of their content.
  platform:
    support: full
    platforms: posix
    description: Writes on the controller, whatever the host's connection.
notes:
  - The files are written where C(ansible-playbook) runs, whatever the connection of the host.
"""

EXAMPLES = r"""
- name: Write a report as JSON and Markdown
  keyless.aws.report_files:
    dir: "{{ playbook_dir }}/reports"
    files:
      fleet.json: "{{ fleet | to_nice_json(indent=2) }}"
      fleet.md: "{{ lookup('ansible.builtin.template', 'fleet.md.j2') }}"
  vars:
    fleet: {instances: 3, compliant: 3}
"""

RETURN = r"""
dir:
  description: The directory, absolute.
  returned: always
  type: str
files:
  description: The paths of every file of O(files).
  returned: always
  type: list
  elements: str
written:
  description: The paths of the files whose content or mode changed (none in check mode).
  returned: always
  type: list
  elements: str
"""
