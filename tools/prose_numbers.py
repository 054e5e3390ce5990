"""What counts as a number worth checking in a notebook's prose, for the checks that compare numbers:
tests/test_notebook_hygiene.py (each one printed, written in code or cited) and tools/zh_checks.py (the same
numbers in a translation as in its English).

A decimal (2.48), or four or more digits (1,115,394 or 50256); not a part of a word, a version or a list:

>>> NUMBER.findall("loss 2.48 on 1,115,394 characters, 50256 ids, 65 chars, v2.4.1, GPT-2")
['2.48', '1,115,394', '50256']
"""

import re

NUMBER = re.compile(r"(?<![\w.,#-])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d{4,})(?![\w]|\.\d)")
