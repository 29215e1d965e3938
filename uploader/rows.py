"""The request path's rows, with statements built once per model: a new row's INSERT, a row's
UPDATE, and one row by its primary key.

Why: the ORM builds its SQL anew on every call (the compiler walks every field, quotes every
name, assembles the placeholders). For the presign's three new rows that was about a quarter of
its CPU, and reading an upload by its key cost 1.7 ms where the same SELECT written once costs
0.5 (README, Benchmarks). The INSERT is Django's own, compiled by Django's compiler the first time
a model is inserted on a connection; each call then only prepares the values (`pre_save` and
`get_db_prep_save`, as save() does). The SELECT goes through Django's `raw()`, which converts
every column as a query would. For the app's own models, which no signal listens to (save()
would send pre_save and post_save; nothing here does).
"""

import datetime as dt
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from django.db import DatabaseError, connections, models, router
from django.db.models.sql import InsertQuery
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=models.Model)


def fetch(model: type[M], pk: Any, *, for_update: bool = False, **equal: Any) -> M | None:
    """The row of `model` with this primary key whose `equal` columns (attribute names) hold
    these values, or None. `for_update` locks it until the transaction ends, as
    select_for_update() would (and, like it, refuses outside a transaction)."""
    alias = router.db_for_write(model) if for_update else router.db_for_read(model)  # as select_for_update()
    connection = connections[alias]
    if for_update and connection.get_autocommit():
        raise TransactionManagementError("fetch(for_update=True) outside a transaction")
    names = tuple(sorted(equal))
    lock = for_update and connection.features.has_select_for_update
    sql, fields = _select(model, alias, connection.vendor, names, lock)
    values = [pk, *(equal[name] for name in names)]
    params = [field.get_db_prep_value(value, connection) for field, value in zip(fields, values, strict=True)]
    return next(iter(model._base_manager.using(alias).raw(sql, params)), None)


@cache
def _select(
    model: type[models.Model], alias: str, vendor: str, names: tuple[str, ...], lock: bool
) -> tuple[str, list[models.Field]]:
    """(sql, the fields of its parameters): every column of the row whose key and `names` match."""
    meta, quote = model._meta, connections[alias].ops.quote_name
    by_attname = {f.attname: f for f in meta.concrete_fields}
    fields = [meta.pk, *(by_attname[name] for name in names)]
    where = " AND ".join(f"{quote(field.column)} = %s" for field in fields)
    listed = ", ".join(quote(f.column) for f in meta.concrete_fields)
    return f"SELECT {listed} FROM {quote(meta.db_table)} WHERE {where}{' FOR UPDATE' if lock else ''}", fields


def insert(obj: models.Model) -> None:
    """INSERT `obj` as save() would for a new row; sets its generated primary key, if any."""
    prepare_insert(obj).execute()


class Insert:
    """A new row's INSERT with its values prepared: built before a transaction, so that the
    transaction holds its lock for the statement alone (services/common.stage_change)."""

    def __init__(self, obj: models.Model) -> None:
        model = type(obj)
        self.obj, self.alias = obj, router.db_for_write(model, instance=obj)
        connection = connections[self.alias]
        self.sql, fields, self.returning = _statement(model, self.alias, connection.vendor, obj.pk is None)
        self.params = _values(obj, fields, connection, adding=True)

    def execute(self) -> None:
        connection, meta = connections[self.alias], type(self.obj)._meta
        key = None
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            if self.returning:
                if connection.features.can_return_columns_from_insert:
                    key = cursor.fetchone()[0]
                else:  # pragma: no cover  (SQLite before 3.35)
                    key = connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)
        self.written(key)

    def written(self, key: Any = None) -> None:
        """The object as save() leaves it once its row is written: its generated key set (when the
        INSERT returns one), no longer adding, bound to the database."""
        obj = self.obj
        if self.returning:
            setattr(obj, type(obj)._meta.pk.attname, key)
        obj._state.adding, obj._state.db = False, self.alias


prepare_insert = Insert


def insert_all(inserts: list[Insert]) -> None:
    """Execute these INSERTs (one database), in order. On PostgreSQL as one statement, each
    INSERT in a WITH clause: one round trip to the server instead of one each (a start's upload,
    audit entry and outbox row: README, Benchmarks). Elsewhere one after the other."""
    if not inserts:
        return
    alias = inserts[0].alias
    connection = connections[alias]
    if len(inserts) == 1 or connection.vendor != "postgresql" or any(i.alias != alias for i in inserts):
        for one in inserts:
            one.execute()
        return
    _in_one_statement(connection, inserts)


def insert_all_if(condition: tuple[str, list[Any]], inserts: list[Insert]) -> bool:
    """PostgreSQL, in autocommit: `condition` (a data-modifying statement with RETURNING: the quota's
    conditional UPDATE) and these INSERTs as one statement and transaction, each INSERT made only if
    the condition returned a row; True if it did. Its lock is held for this statement alone."""
    return _in_one_statement(connections[inserts[0].alias], inserts, condition)


def _in_one_statement(connection: Any, inserts: list[Insert], condition: tuple[str, list[Any]] | None = None) -> bool:
    """The INSERTs as one WITH statement, keys returned; a `condition` first (as q), the INSERTs selecting from it."""
    sql, params = condition or ("", [])
    clauses = [f"q AS ({sql})"] if condition else []
    clauses += [f"i{n} AS ({_only_if_q(one.sql) if condition else one.sql})" for n, one in enumerate(inserts)]
    keys = [n for n, one in enumerate(inserts) if one.returning]
    answer = ", ".join(["(SELECT count(*) FROM q)" if condition else "1", *(f"(SELECT * FROM i{n})" for n in keys)])
    with connection.cursor() as cursor:
        values = [*params, *(value for one in inserts for value in one.params)]
        cursor.execute(f"WITH {', '.join(clauses)} SELECT {answer}", values)
        found, *returned = cursor.fetchone()
    if not found:
        return False
    by_insert = dict(zip(keys, returned, strict=True))
    for n, one in enumerate(inserts):
        one.written(by_insert.get(n))
    return True


def _only_if_q(sql: str) -> str:
    """Django's `INSERT ... VALUES (...) [RETURNING ...]` as `INSERT ... SELECT ... FROM q [RETURNING ...]`."""
    head, _, rest = sql.partition(" VALUES (")
    values, _, returning = rest.rpartition(")")
    return f"{head} SELECT {values} FROM q{returning}"


def update(obj: models.Model) -> None:
    """UPDATE every column of `obj`'s row, as save() does for a row that exists (auto_now fields
    stamped); raises DatabaseError when no row has its key, as save(force_update=True) does."""
    model, alias = type(obj), router.db_for_write(type(obj), instance=obj)
    connection = connections[alias]
    sql, fields = _update(model, alias, connection.vendor)
    params = _values(obj, fields, connection, adding=False)
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount == 0:
            raise DatabaseError("Forced update did not affect any rows.")
    obj._state.adding, obj._state.db = False, alias


def _values(obj: models.Model, fields: list[models.Field], connection: Any, *, adding: bool) -> list[Any]:
    """The values save() would send for these fields of `obj`: each field's `pre_save` and
    `get_db_prep_save`, except where a plain field holds a value of a type whose conversion is
    known (`_plain`): a string for a text field, an integer for an integer field or a key to an
    integer key, a float, a bool; or None. Those two calls were about half of building a new
    upload's row (README, Benchmarks); tests/test_fast_paths.py holds both ways equal."""
    values: list[Any] = []
    for field in fields:
        types, convert = _plain(field, connection.alias)
        if types:
            value = getattr(obj, field.attname)
            if value is None:
                values.append(None)
                continue
            if type(value) in types:
                converted = value if convert is None else convert(value)
                if converted is not _UNSURE:
                    values.append(converted)
                    continue
        values.append(field.get_db_prep_save(field.pre_save(obj, adding), connection=connection))
    return values


_TEXT = (models.CharField, models.TextField, models.SlugField, models.EmailField)
_INTEGER = (
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
_AUTO = (models.AutoField, models.BigAutoField, models.SmallAutoField)
_UNSURE = object()  # what a conversion answers for a value it leaves to the field


@cache
def _plain(field: models.Field, alias: str) -> tuple[tuple[type, ...], Callable[[Any], Any] | None]:
    """(types, convert): a value of these types is sent as `convert(value)` (as it is, if None),
    which is what get_db_prep_save(pre_save()) gives for it, unless convert answers _UNSURE; ()
    where every value takes that way. Django's own classes only, exactly (a subclass may
    convert), whose pre_save reads the attribute (not auto_now), adapting integers and aware
    datetimes by the connection as their fields do."""
    ops, kind = connections[alias].ops, type(field)
    if isinstance(field, models.ForeignKey) and kind is models.ForeignKey:
        target = field.target_field
        if type(target) in _AUTO:  # AutoFieldMixin.get_db_prep_value
            return (int,), ops.validate_autopk_value
        field, kind = target, type(target)
        if kind not in _INTEGER:
            return (), None
    elif isinstance(field, models.DateTimeField) and kind is models.DateTimeField:
        if field.auto_now or field.auto_now_add:  # stamped by pre_save
            return (), None

        def aware(value: dt.datetime) -> Any:  # a naive one takes the field's way (and its warning)
            return _UNSURE if value.utcoffset() is None else ops.adapt_datetimefield_value(value)

        return (dt.datetime,), aware
    elif kind is models.UUIDField:  # stored as such, or as its hex digits
        return (uuid.UUID,), None if connections[alias].features.has_native_uuid_field else lambda value: value.hex
    if kind in _TEXT:
        return (str,), None
    if kind is models.BooleanField:
        return (bool,), None
    if kind is models.FloatField:
        return (float,), None
    if kind in _INTEGER:  # IntegerField.get_db_prep_value: int() of an int is itself, then adapted
        internal_type = field.get_internal_type()
        return (int,), lambda value: ops.adapt_integerfield_value(value, internal_type)
    return (), None


@cache
def _update(model: type[models.Model], alias: str, vendor: str) -> tuple[str, list[models.Field]]:
    meta, quote = model._meta, connections[alias].ops.quote_name
    fields = [f for f in meta.local_concrete_fields if not f.primary_key]
    if any(getattr(f, "generated", False) for f in fields):
        raise TypeError(f"{model.__name__} has a generated field; save() it instead")
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s", fields


@cache
def _statement(
    model: type[models.Model], alias: str, vendor: str, generated_pk: bool
) -> tuple[str, list[models.Field], bool]:
    """(sql, fields, returns the key): the INSERT save() would run for a row of `model`."""
    meta = model._meta
    fields = [f for f in meta.local_concrete_fields if not (generated_pk and f is meta.auto_field)]
    if any(getattr(f, "generated", False) for f in fields):
        raise TypeError(f"{model.__name__} has a generated field; save() it instead")
    returning = [meta.pk] if generated_pk else []
    query = InsertQuery(model)
    # A blank row: the statement's shape (columns and placeholders) depends on the fields only.
    query.insert_values(fields, [model()], raw=True)
    compiler = query.get_compiler(using=alias)
    compiler.returning_fields = returning or None
    (sql, _params), *more = compiler.as_sql()
    if more:  # pragma: no cover  (one row, one statement)
        raise TypeError("one statement expected")
    return sql, fields, bool(returning)
