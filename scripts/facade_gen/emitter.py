"""Emits the blocking facade classes, member by member, from the async classes' source."""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import textwrap
import types

from facade_gen import config
from facade_gen.assemble import facade_module
from facade_gen.model import ClassInfo, Member, collect_members, module_imports, sync_doc


class Emitter:
    def __init__(self, infos: list[ClassInfo]) -> None:
        self.infos = infos
        self.wrapped = {i.name for i in infos}
        self.imports: set[str | tuple[str, str]] = set()
        self.from_imports: dict[str, set[str]] = {}
        self.lines: list[str] = []
        #: Names the generated code uses at run time (defaults, conversions), imported eagerly.
        self.runtime_names: set[str] = set()

    # ------------------------------------------------------------- annotations

    def _resolve(self, name: str, module: types.ModuleType) -> None:
        """Import ``name`` the way ``module`` gets it (its own import, or its own definition)."""
        if name in self.wrapped or name in vars(builtins) or name == "None":
            return
        imported = module_imports(module).get(name)
        if imported is not None:
            self.imports.add(imported)
        elif name in vars(module):
            self.from_imports.setdefault(module.__name__, set()).add(name)

    def _use(self, expr: ast.AST | None, module: types.ModuleType, *, annotation: bool = True) -> None:
        if expr is None:
            return
        if annotation and isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            expr = ast.parse(expr.value, mode="eval").body
        for node in ast.walk(expr):
            if isinstance(node, ast.Name):
                self._resolve(node.id, module)
                if not annotation:
                    self.runtime_names.add(node.id)

    def _sync_annotation(self, text: str) -> str:
        """Rewrite async-only annotation forms for the blocking side."""
        tree = ast.parse(text, mode="eval")

        class Rewrite(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.AST:
                mapping = {
                    "AsyncIterator": "Iterator",
                    "AsyncIterable": "Iterable",
                    "AsyncGenerator": "Iterator",
                }
                if node.id in mapping:
                    return ast.copy_location(ast.Name(mapping[node.id], node.ctx), node)
                return node

        new = Rewrite().visit(tree)
        result = ast.unparse(new)
        for name in ("Iterator", "Iterable"):
            if name in result:
                self.from_imports.setdefault("collections.abc", set()).add(name)
        return result

    def _converter(self, annotation: str | None) -> str | None:
        """An expression template (with ``{}``) that wraps an async result, or None."""
        if annotation is None:
            return None
        tree = ast.parse(annotation, mode="eval").body
        return self._converter_for(tree)

    def _converter_for(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name) and node.id in self.wrapped:
            return f"{node.id}._wrap({{}})"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            # X | None
            parts = [node.left, node.right]
            named = [p for p in parts if not (isinstance(p, ast.Constant) and p.value is None)]
            if len(named) == 1:
                inner = self._converter_for(named[0])
                if inner:
                    return f"_optional({{}}, lambda _v: {inner.format('_v')})"
            return None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            inner = self._converter_for(node.slice)
            if node.value.id in {"list", "Sequence"} and inner:
                return f"[{inner.format('_v')} for _v in {{}}]"
            if node.value.id == "ResultList" and inner:
                self.runtime_names.add("ResultList")
                # A list that displays itself: keep that type around the wrapped items.
                return f"ResultList({inner.format('_v')} for _v in {{}})"
            if node.value.id in {"AsyncIterator", "AsyncGenerator", "AsyncIterable"}:
                element = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
                conv = self._converter_for(element)
                fn = f"lambda _v: {conv.format('_v')}" if conv else "_identity"
                return f"_runtime.SyncIterator({{}}, {fn})"
        return None

    # ------------------------------------------------------------- members

    def _signature(self, member: Member, drop_self: bool = False) -> tuple[str, str]:
        """The parameter list and the call arguments, copied from the async source."""
        args = member.node.args
        first = [*args.posonlyargs, *args.args][:1]
        if first and first[0].arg in {"self", "cls"} and first[0].annotation is not None:
            # ``cls: type[ClientT]`` types the async class; the facade's own class is implied.
            args = copy.deepcopy(args)
            (args.posonlyargs or args.args)[0].annotation = None
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                self._use(arg.annotation, member.source_module)
        args = copy.deepcopy(args)
        args.defaults = [_plain_constant(d, member.source_module) for d in args.defaults]
        args.kw_defaults = [_plain_constant(d, member.source_module) for d in args.kw_defaults]
        for default in [*args.defaults, *args.kw_defaults]:
            self._use(default, member.source_module, annotation=False)
        params = ast.unparse(args)
        call_parts: list[str] = []
        positional = [*args.posonlyargs, *args.args]
        if positional and positional[0].arg in {"self", "cls"}:
            positional = positional[1:]
        call_parts += [a.arg for a in positional]
        if args.vararg:
            call_parts.append(f"*{args.vararg.arg}")
        call_parts += [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
        if args.kwarg:
            call_parts.append(f"**{args.kwarg.arg}")
        return params, ", ".join(call_parts)

    def _returns(self, member: Member) -> str | None:
        returns = member.node.returns
        if returns is None:
            return None
        self._use(returns, member.source_module)
        if isinstance(returns, ast.Constant) and isinstance(returns.value, str):
            return returns.value
        return ast.unparse(returns)

    def _doc(self, member: Member, indent: str) -> list[str]:
        doc = ast.get_docstring(member.node)
        if not doc:
            return []
        doc = sync_doc(doc)
        body = textwrap.indent(doc, indent).strip()
        return [f'{indent}"""{body}\n{indent}"""' if "\n" in doc else f'{indent}"""{doc}"""']

    def emit_class(self, info: ClassInfo) -> None:
        alias = "_a_" + info.module.__name__.replace(".", "_")
        async_ref = f"{alias}.{info.name}"
        self.imports.add(f"import {info.module.__name__} as {alias}")
        out = self.lines
        out.append("")
        out.append("")
        out.append(f"class {info.name}({info.base.name}):" if info.base else f"class {info.name}:")
        doc = textwrap.indent(sync_doc(info.doc), "    ").strip()
        out.append(
            f'    """{doc}\n\n    Blocking facade of :class:`{info.module.__name__}.{info.name}`.\n    """'
        )
        out.append("")
        out.append(f"    _async: {async_ref}")
        if info.name in config.CLOSED_AT_EXIT and not (info.base and info.base.name in config.CLOSED_AT_EXIT):
            out.append("    #: True when this facade made its async object (it then closes it when dropped).")
            out.append("    _owned: bool = False")
        out.append("")
        out.append("    @classmethod")
        # A subclass's facade wraps only its own async class (narrower than the base's).
        ignore = "  # type: ignore[override]" if info.base else ""
        out.append(f"    def _wrap(cls, inner: {async_ref}) -> {info.name}:{ignore}")
        out.append("        facade = cls.__new__(cls)")
        out.append("        facade._async = inner")
        if info.name in config.CLOSED_AT_EXIT:
            out.append("        _runtime.register_for_exit(inner)")
        out.append("        return facade")
        out.append("")
        out.append("    def __repr__(self) -> str:")
        out.append("        return repr(self._async)")
        out.append("")
        out.append("    @property")
        out.append(f"    def async_object(self) -> {async_ref}:")
        out.append('        """The async object behind this facade (use it only on the facade\'s loop)."""')
        out.append("        return self._async")
        members = info.members
        for name, member in members.items():
            if name in {"__aiter__", "__anext__", "__await__"}:
                continue
            self._emit_member(info, member, async_ref)
        if info.name in config.CLOSED_AT_EXIT:
            # A connection dropped while open (a re-run notebook cell re-binding its
            # name) is closed on its own loop, embedded simulator included; a facade
            # that only wraps a shared object (client.galaxy()) leaves it alone.
            out.append("")
            out.append("    def __del__(self) -> None:")
            out.append('        if self.__dict__.get("_owned"):')
            out.append("            _runtime.close_soon(self._async)")
        if "__anext__" in members:
            ret = self._returns(members["__anext__"]) or "object"
            conv = self._converter(ret)
            out.append("")
            out.append(f"    def __iter__(self) -> {info.name}:")
            out.append("        return self")
            out.append("")
            out.append(f"    def __next__(self) -> {ret}:")
            out.append("        try:")
            out.append("            item = _runtime.run(_anext(self._async))")
            out.append("        except StopAsyncIteration:")
            out.append("            raise StopIteration from None")
            out.append(f"        return {conv.format('item') if conv else 'item'}")
            out.append("")
            out.append("    def __del__(self) -> None:")
            out.append("        # Dropped without close(): close it on its own loop, never from this thread.")
            out.append('        inner = self.__dict__.get("_async")')
            out.append("        if inner is not None:")
            out.append("            _runtime.close_soon(inner)")

    def _check_convertible(self, info: ClassInfo, member: Member, ret: str | None, conv: str | None) -> None:
        """Fail when a result would hand an async object to blocking code unwrapped."""
        if ret is None or conv is not None:
            return
        mentioned = {n.id for n in ast.walk(ast.parse(ret, mode="eval")) if isinstance(n, ast.Name)}
        if mentioned & self.wrapped:
            raise SystemExit(
                f"{info.name}.{member.name} returns {ret}, a shape the facade cannot convert: "
                "return the class itself, X | None, list[X] or AsyncIterator[X]"
            )

    def _emit_member(self, info: ClassInfo, member: Member, async_ref: str) -> None:
        out = self.lines
        name = member.name
        ret = self._returns(member)
        conv = self._converter(ret)
        factory = (
            member.kind in {"classmethod", "sync"}
            and ret is not None
            and self._is_awaitable_factory(info, member)
        )
        if name not in {"__aenter__", "__init__"} and not factory:
            self._check_convertible(info, member, ret, conv)
        if conv and member.kind not in {"classmethod", "staticmethod"}:
            # What a method hands out keeps this facade alive (see _kept).
            wrap = lambda expr: f"_kept(self, {conv.format(expr)})"  # noqa: E731
        else:
            wrap = (lambda expr: conv.format(expr)) if conv else (lambda expr: expr)
        sync_ret = self._sync_annotation(ret) if ret else "None"
        out.append("")
        if member.kind == "property":
            out.append("    @property")
            out.append(f"    def {name}(self) -> {sync_ret}:")
            out.extend(self._doc(member, "        "))
            out.append(f"        return {wrap(f'self._async.{name}')}")
            return
        params, call_args = self._signature(member)
        if name == "__init__" and info.name not in config.CONSTRUCTIBLE:
            out.append("    def __init__(self) -> None:")
            out.append(
                f'        raise TypeError("{info.name} objects come from the facade\'s factory methods")'
            )
            return
        if name == "__init__":
            out.append(f"    def __init__({params}) -> None:")
            out.extend(self._doc(member, "        "))
            out.append(
                f"        self._async = _runtime.on_loop({async_ref}, {call_args})".replace(", )", ")")
            )
            if info.name in config.CLOSED_AT_EXIT:
                out.append("        _runtime.register_for_exit(self._async)")
                out.append("        self._owned = True")
                out.append("        _runtime.watch_in_notebook(self)")
            return
        if name == "__aenter__":
            out.append(f"    def __enter__(self) -> {info.name}:")
            out.append("        _runtime.run(self._async.__aenter__())")
            out.append("        return self")
            return
        if name == "__aexit__":
            out.append(f"    def __exit__({params}) -> None:")
            out.append(f"        _runtime.run(self._async.__aexit__({call_args}))")
            return
        if name == "aclose" and "close" in info.members:
            return  # the class has its own close(); aclose() is its alias
        sync_name = "close" if name == "aclose" else name
        if member.kind in {"classmethod", "staticmethod"}:
            target = async_ref
            out.append(f"    @{member.kind}")
        else:
            target = "self._async"
        if member.kind == "sync" and ret and self._is_awaitable_factory(info, member):
            # An awaitable that is also an async context manager (``open_session``):
            # the blocking call returns the opened object, itself a context manager.
            made = self._factory_product(info, member, ret)
            out.append(f"    def {sync_name}({params}) -> {made}:")
            out.extend(self._doc(member, "        "))
            opened = f"{made}._wrap(_runtime.call(_await, {target}.{name}({call_args})))"
            out.append(f"        return _kept(self, {opened})")
            return
        if member.kind == "classmethod" and ret and self._is_awaitable_factory(info, member):
            # An awaitable that is also an async context manager (``connect``).
            out.append(f"    def {sync_name}({params}) -> {info.name}:")
            out.extend(self._doc(member, "        "))
            out.append(
                f"        facade = {info.name}._wrap(_runtime.call(_await, {target}.{name}({call_args})))"
            )
            if info.name in config.CLOSED_AT_EXIT:
                out.append("        facade._owned = True")
                out.append("        _runtime.watch_in_notebook(facade)")
            out.append("        return facade")
            return
        out.append(f"    def {sync_name}({params}) -> {sync_ret}:")
        out.extend(self._doc(member, "        "))
        if member.kind == "async":
            out.append(f"        return {wrap(f'_runtime.run({target}.{name}({call_args}))')}")
        else:
            # Plain methods too run on the loop thread: they touch state the loop owns.
            args = f"{target}.{name}, {call_args}" if call_args else f"{target}.{name}"
            out.append(f"        return {wrap(f'_runtime.on_loop({args})')}")

    def _factory_product(self, info: ClassInfo, member: Member, ret: str) -> str:
        """The mirrored class an awaitable factory method opens (``Connector[Session]``: Session)."""
        node = ast.parse(ret, mode="eval").body
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Name)
            and node.slice.id in self.wrapped
        ):
            return node.slice.id
        raise SystemExit(
            f"{info.name}.{member.name} returns {ret}, a shape the facade cannot convert: "
            "an awaitable factory must open one mirrored class, such as Connector[Session]"
        )

    def _is_awaitable_factory(self, info: ClassInfo, member: Member) -> bool:
        fn = getattr(info.cls, member.name)
        hints = inspect.signature(fn).return_annotation
        candidate = vars(member.source_module).get(hints.split("[")[0]) if isinstance(hints, str) else hints
        return isinstance(candidate, type) and hasattr(candidate, "__await__")

    def render(self) -> str:
        """The facade module's source text."""
        by_class = {info.cls: info for info in self.infos}
        for info in self.infos:
            info.base = next((by_class[k] for k in info.cls.__mro__[1:] if k in by_class), None)
            collect_members(info)
            self.emit_class(info)
        return facade_module(
            self.lines, self.imports, self.from_imports, self.runtime_names, [i.name for i in self.infos]
        )


def _plain_constant(default: ast.expr | None, module: types.ModuleType) -> ast.expr | None:
    """A default naming a module constant of a plain type, as its value (the facade need not import it)."""
    if isinstance(default, ast.Name):
        value = vars(module).get(default.id)
        if type(value) in (int, float, str, bool):
            return ast.Constant(value)
    return default
