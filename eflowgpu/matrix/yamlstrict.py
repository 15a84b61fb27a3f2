"""A strict YAML loader that remembers where each mapping key was written.

It is a :class:`yaml.SafeLoader` (no arbitrary objects) that rejects duplicate keys and returns
:class:`LineMap` mappings whose keys carry their line numbers, so that the typed model built on top
can name the file, the line and the field of every error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from eflowgpu.errors import MatrixError


class LineMap(dict[str, Any]):
    """A mapping from YAML that knows the line of itself and of each of its keys (1-based)."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """Line of ``key`` when present, else the line where the mapping starts."""
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML that knows the line of each of its items (1-based)."""

    line: int
    item_lines: list[int]


def _make_loader(path: Path) -> type[yaml.SafeLoader]:
    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that rejects duplicate keys and records line numbers."""

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineMap:  # type: ignore[override]
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    kind = "a sequence" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
                    raise MatrixError(
                        path, key_node.start_mark.line + 1, "", f"keys must be strings, not {kind}"
                    )
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise MatrixError(
                        path, line, str(key), f"duplicate key (first written on line {seen[key]})"
                    )
                seen[key] = line
            self.flatten_mapping(node)
            result = LineMap()
            result.line = node.start_mark.line + 1
            result.key_lines = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    raise MatrixError(path, key_node.start_mark.line + 1, str(key), "keys must be strings")
                result[key] = self.construct_object(value_node, deep=True)
                result.key_lines.setdefault(key, key_node.start_mark.line + 1)
            return result

        def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
            result = LineList(self.construct_object(child, deep=True) for child in node.value)
            result.line = node.start_mark.line + 1
            result.item_lines = [child.start_mark.line + 1 for child in node.value]
            return result

    StrictLoader.add_constructor("tag:yaml.org,2002:map", StrictLoader.construct_mapping)
    StrictLoader.add_constructor("tag:yaml.org,2002:seq", StrictLoader.construct_sequence)
    return StrictLoader


def load_yaml(text: str, path: Path) -> Any:
    """Parse ``text`` (the contents of ``path``) strictly; raise :class:`MatrixError` on any problem."""
    try:
        return yaml.load(text, Loader=_make_loader(path))
    except MatrixError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise MatrixError(path, line, "", f"not valid YAML: {exc.problem or exc}") from exc
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, at a character offset
        line = text.count("\n", 0, exc.position) + 1
        raise MatrixError(
            path, line, "", f"not valid YAML: {exc.reason} (character {exc.character!r})"
        ) from exc
    except yaml.YAMLError as exc:
        raise MatrixError(path, None, "", f"not valid YAML: {' '.join(str(exc).split())}") from exc
    except RecursionError as exc:
        raise MatrixError(path, _deepest_line(text), "", "nested too deeply to be a support matrix") from exc


def _deepest_line(text: str) -> int:
    """The line where the nesting (indentation and open brackets) is deepest: where to look."""
    depth, best, best_line = 0, -1, 1
    for number, line in enumerate(text.splitlines(), 1):
        indent = (len(line) - len(line.lstrip(" "))) // 2
        deepest = depth
        for ch in line:
            if ch in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif ch in "]}":
                depth = max(0, depth - 1)
        if deepest + indent > best:
            best, best_line = deepest + indent, number
    return best_line
