"""The shape of an IAM policy document: a dict callers `json.dumps`."""

from typing import Any

Policy = dict[str, Any]
