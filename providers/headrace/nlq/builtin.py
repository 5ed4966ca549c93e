"""The built-in engine: schema-aware semantic parsing of an analyst's question into SQL.

The drafting grammar's approach (:mod:`headrace.workflows.drafting`) applied to questions: fixed
rules, each marking the words it used, over the real tables, columns and keys of the schema. Rules,
in order: time phrases (``last month``, ``this year``, ``since 2024-01-01``, ``in 2024``), rankings
(``top 10``, ``most recent 5``, ``3 most expensive``), aggregates (``how many``, ``total``,
``average``, ``max``), group markers (``by``, ``per``, ``for each``), then the schema's own names
(tables and columns, singular or plural, ``total amount`` for ``total_amount``) and the filters on
them (``status is 'shipped'``, ``price over 100``). Tables are joined along foreign keys (or
``<table>_id`` naming). Words no rule used come back as ``unused``; the SQL is built as a sqlglot
tree (every identifier quoted) and rendered in the source's dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlglot import exp

from headrace.nlq import words as w
from headrace.nlq.schema import Join, Schema, Table

_TIME_PREFERENCE = ("created_at", "order_date", "ordered_at", "placed_at", "event_time", "timestamp", "date")


class NotUnderstood(ValueError):
    """A question the built-in engine cannot turn into SQL (names no table of the schema)."""


@dataclass
class Mention:
    pos: int
    table: str
    column: str | None  # None: the table itself
    exact: bool = True
    span: int = 1  # tokens the name took


@dataclass
class Plan:
    agg: str | None = None
    agg_pos: int = -1
    distinct: bool = False
    limit: int | None = None
    rank: str | None = None  # top | bottom | recent | oldest | expensive | cheap
    groups: list[Mention] = field(default_factory=list)
    group_month: bool = False
    filters: list[tuple[Mention, str, Any]] = field(default_factory=list)
    period: w.Period | None = None
    mentions: list[Mention] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Answer:
    sql: str
    explanation: str
    unused: list[str]


class BuiltinEngine:
    """Questions over one schema; ``today`` fixes what relative time phrases mean."""

    name = "builtin"

    def __init__(self, schema: Schema, dialect: str, *, today: date | None = None) -> None:
        self.schema = schema
        self.dialect = dialect
        self.today = today or date.today()

    # ------------------------------------------------------------------------------------- parse
    def translate(self, question: str) -> Answer:
        tokens = w.tokenize(question)
        plan = Plan()
        self._time(tokens, plan)
        self._ranking(tokens, plan)
        self._aggregates(tokens, plan)
        group_at = self._group_markers(tokens)
        self._names(tokens, plan)
        self._filters(tokens, plan)
        self._groups(plan, group_at)
        if plan.group_month is False and any(
            t.word == "month" and not t.used and i > 0 and tokens[i - 1].word in ("per", "by", "each")
            for i, t in enumerate(tokens)
        ):
            plan.group_month = True
            for i, t in enumerate(tokens):
                if t.word == "month" and i > 0 and tokens[i - 1].word in ("per", "by", "each"):
                    t.used = tokens[i - 1].used = True
        unused = _unused(tokens)
        sql, explanation = self._build(plan)
        return Answer(sql, explanation, unused)

    def _groups(self, plan: Plan, group_at: list[tuple[int, int]]) -> None:
        """Mentions after a group marker; a numeric column there is what is ranked or totalled
        (``top 5 customers by total amount``), and ``customer country`` is the column alone."""
        filtered = [f[0] for f in plan.filters]
        candidates = [
            m
            for m in plan.mentions
            if any(start <= m.pos <= end for start, end in group_at) and m not in filtered
        ]
        for m in candidates:
            if m.column and self._kind(m) == "number" and (plan.agg or plan.rank in ("top", "bottom")):
                continue
            following = next((o for o in candidates if o.pos == m.pos + m.span), None)
            if m.column is None and following is not None and following.table == m.table and following.column:
                continue
            plan.groups.append(m)

    def _time(self, tokens: list[w.Token], plan: Plan) -> None:
        n = len(tokens)
        for i, t in enumerate(tokens):
            if t.used:
                continue
            nxt = tokens[i + 1] if i + 1 < n else None
            if t.word in ("since", "from", "after") and nxt and nxt.kind == "date":
                start = date.fromisoformat(nxt.text) + timedelta(days=1 if t.word == "after" else 0)
                plan.period = w.Period(start, None, f"{t.word} {nxt.text}")
                t.used = nxt.used = True
            elif t.word in ("before", "until") and nxt and nxt.kind == "date":
                plan.period = w.Period(None, date.fromisoformat(nxt.text), f"before {nxt.text}")
                t.used = nxt.used = True
            elif (
                t.word == "between"
                and nxt
                and nxt.kind == "date"
                and i + 3 < n
                and tokens[i + 3].kind == "date"
            ):
                end = date.fromisoformat(tokens[i + 3].text) + timedelta(days=1)
                plan.period = w.Period(
                    date.fromisoformat(nxt.text), end, f"between {nxt.text} and {tokens[i + 3].text}"
                )
                for k in range(i, i + 4):
                    tokens[k].used = True
            elif t.word in ("in", "during") and nxt and nxt.kind == "num" and len(nxt.text) == 4:
                year = int(nxt.text)
                plan.period = w.Period(date(year, 1, 1), date(year + 1, 1, 1), f"in {year}")
                t.used = nxt.used = True
            elif t.word in ("last", "past", "previous", "this", "current") and nxt:
                which = "this" if t.word in ("this", "current") else "last"
                count, unit_at = 1, i + 1
                if nxt.kind == "num" and i + 2 < n:
                    count, unit_at = int(float(nxt.text)), i + 2
                unit = tokens[unit_at].word if unit_at < n else ""
                if w.singular(unit) in ("day", "week", "month", "year"):
                    period = w.relative_period(unit, which, self.today, count)
                    if period:
                        plan.period = period
                        for k in range(i, unit_at + 1):
                            tokens[k].used = True
            elif t.word in ("today", "yesterday"):
                plan.period = w.relative_period("day", "this" if t.word == "today" else "last", self.today)
                t.used = True

    def _ranking(self, tokens: list[w.Token], plan: Plan) -> None:
        for i, t in enumerate(tokens):
            if t.used or t.kind != "word":
                continue
            prev = tokens[i - 1] if i > 0 else None
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            nxt2 = tokens[i + 2] if i + 2 < len(tokens) else None
            kind = None
            if t.word == "most" and nxt and nxt.word in w.EXPENSIVE | w.CHEAP:
                t.used = True
                continue
            if t.word in w.EXPENSIVE:
                kind = "expensive"
            elif t.word in w.CHEAP:
                kind = "cheap"
            elif t.word == "most" and nxt and nxt.word in ("recent", "recently"):
                kind, nxt.used = "recent", True
            elif t.word in w.RECENT and (
                (nxt and nxt.kind == "num") or (prev and prev.kind == "num") or t.word != "last"
            ):
                kind = "recent"
            elif t.word in w.OLDEST and (
                (nxt and nxt.kind == "num") or (prev and prev.kind == "num") or t.word != "first"
            ):
                kind = "oldest"
            elif t.word in ("top", "bottom") or (t.word in w.TOP | w.BOTTOM and prev and prev.kind == "num"):
                kind = "bottom" if t.word in w.BOTTOM else "top"
            if kind is None:
                continue
            t.used = True
            plan.rank = plan.rank if plan.rank in ("expensive", "cheap") else kind
            for candidate in (nxt, prev, nxt2):
                if candidate is not None and candidate.kind == "num" and not candidate.used:
                    plan.limit = max(1, int(float(candidate.text)))
                    candidate.used = True
                    break
            if plan.limit is None:
                plan.limit = 1 if kind in ("expensive", "cheap") and t.word.endswith("est") else 10

    def _aggregates(self, tokens: list[w.Token], plan: Plan) -> None:
        for i, t in enumerate(tokens):
            if t.used or t.word not in w.AGGREGATES:
                continue
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if t.word == "how" and not (nxt and nxt.word == "many"):
                continue
            if t.word == "number" and not (nxt and nxt.word == "of"):
                continue
            if self._column_before_comparator(tokens, i):
                continue  # "total amount over 500": the column total_amount, not a sum
            if plan.agg is None:
                plan.agg, plan.agg_pos = w.AGGREGATES[t.word], i
            t.used = True
            for k in range(i + 1, min(i + 3, len(tokens))):
                if tokens[k].word in w.AGGREGATE_GLUE and not tokens[k].used:
                    tokens[k].used = True
                    plan.distinct = plan.distinct or tokens[k].word in w.DISTINCT
                else:
                    break
        for t in tokens:
            if not t.used and t.word in w.DISTINCT:
                plan.distinct, t.used = True, True
                plan.agg = plan.agg or "COUNT"

    def _column_before_comparator(self, tokens: list[w.Token], i: int) -> bool:
        for table in self.schema.tables.values():
            for column in table.columns:
                for form in w.forms(column.name):
                    if len(form) > 1 and tuple(t.word for t in tokens[i : i + len(form)]) == form:
                        after = tokens[i + len(form)].word if i + len(form) < len(tokens) else ""
                        after2 = tokens[i + len(form) + 1].word if i + len(form) + 1 < len(tokens) else ""
                        if after in w.GREATER or after in w.LESS or (after, after2) in w.PAIRS:
                            return True
        return False

    @staticmethod
    def _group_markers(tokens: list[w.Token]) -> list[tuple[int, int]]:
        """Token ranges that follow a group marker (up to the next marker-free name)."""
        ranges = []
        for i in range(len(tokens)):
            for marker in w.GROUP_MARKERS:
                words = tuple(t.word for t in tokens[i : i + len(marker)])
                if words == marker and not any(t.used for t in tokens[i : i + len(marker)]):
                    for t in tokens[i : i + len(marker)]:
                        t.used = True
                    ranges.append((i + len(marker), i + len(marker) + 2))
                    break
        return ranges

    def _names(self, tokens: list[w.Token], plan: Plan) -> None:
        candidates: list[tuple[tuple[str, ...], str, str | None]] = []
        for table in self.schema.tables.values():
            candidates += [(f, table.name, None) for f in w.forms(table.name)]
            for column in table.columns:
                candidates += [(f, table.name, column.name) for f in w.forms(column.name)]
        candidates.sort(key=lambda c: (-len(c[0]), c[2] is not None))
        i = 0
        raw: list[tuple[int, list[tuple[str, str | None]], int]] = []  # pos, hits, span (0: a part)
        while i < len(tokens):
            if tokens[i].used or tokens[i].kind != "word":
                i += 1
                continue
            for form, _, _ in candidates:
                span = tuple(t.word for t in tokens[i : i + len(form)])
                if span == form and not any(t.used for t in tokens[i : i + len(form)]):
                    hits = [(tb, col) for f, tb, col in candidates if f == form]
                    if len(form) == 1 and all(col is not None for _, col in hits):
                        hits += [h for h in self._part_hits(form[0]) if h not in hits]
                    raw.append((i, hits, len(form)))
                    for t in tokens[i : i + len(form)]:
                        t.used = True
                    i += len(form) - 1
                    break
            else:  # a word that is one part of a column name ("amount" of total_amount)
                word = w.singular(tokens[i].word)
                parts = self._part_hits(word)
                if parts and word not in w.STOP:
                    raw.append((i, parts, 0))
                    tokens[i].used = True
            i += 1
        tables = [hits[0][0] for _, hits, _ in raw if hits[0][1] is None]
        tokens_at = tokens
        for pos, hits, span in raw:
            table_hits = [h for h in hits if h[1] is None]
            if table_hits:
                plan.mentions.append(Mention(pos, table_hits[0][0], None, True, span))
                continue
            exact = {h for h in hits if span and self._spells(h, pos, span, tokens_at)}
            hits.sort(
                key=lambda h: (h[0] not in tables, h not in exact, list(self.schema.tables).index(h[0]))
            )
            best = hits[0]
            plan.mentions.append(Mention(pos, best[0], best[1], best in exact, max(span, 1)))

    def _part_hits(self, word: str) -> list[tuple[str, str | None]]:
        """Columns one of whose ``_`` parts is ``word`` (``amount`` -> ``total_amount``)."""
        if word in ("id", "at") or word in w.STOP:
            return []
        return [
            (table.name, column.name)
            for table in self.schema.tables.values()
            for column in table.columns
            if word in column.name.lower().split("_")
        ]

    @staticmethod
    def _spells(hit: tuple[str, str | None], pos: int, span: int, tokens: list[w.Token]) -> bool:
        """Whether the words at ``pos`` are one of the column's own forms (not just a part of it)."""
        written = tuple(t.word for t in tokens[pos : pos + span])
        return hit[1] is not None and written in w.forms(hit[1])

    def _filters(self, tokens: list[w.Token], plan: Plan) -> None:
        for m in [m for m in plan.mentions if m.column]:
            column = self.schema.tables[m.table].column(m.column)
            k = m.pos + m.span
            while (
                k < len(tokens) and tokens[k].used and tokens[k].kind == "word" and tokens[k].word in w.STOP
            ):
                k += 1
            op, value_at = None, None
            if k < len(tokens) and not tokens[k].used:
                pair = (tokens[k].word, tokens[k + 1].word) if k + 1 < len(tokens) else None
                if pair in w.PAIRS:
                    op, value_at = w.PAIRS[pair], k + 2
                elif tokens[k].word in w.GREATER or tokens[k].word in w.LESS:
                    op, value_at = {**w.GREATER, **w.LESS}[tokens[k].word], k + 1
                elif tokens[k].word in w.EQUALS or tokens[k].word in ("!=", "<>"):
                    op, value_at = ("<>" if tokens[k].word in ("!=", "<>") else "="), k + 1
                elif column is not None and column.kind == "text":
                    op, value_at = "=", k
            if op is None or value_at is None or value_at >= len(tokens):
                continue
            value = tokens[value_at]
            if value.used or (value.kind == "word" and value.word in w.STOP) or value.kind == "op":
                continue
            if value.kind == "num":
                literal: Any = float(value.text) if "." in value.text else int(value.text)
            elif value.kind in ("quoted", "word", "date"):
                literal = value.text
            else:
                continue
            if column is not None and column.kind == "number" and not isinstance(literal, int | float):
                continue
            plan.filters.append((m, op, literal))
            for t in tokens[m.pos : value_at + 1]:
                t.used = True

    # ------------------------------------------------------------------------------------- build
    def _time_column(self, table: str) -> str | None:
        columns = [c.name for c in self.schema.tables[table].columns if c.kind == "time"]
        for preferred in _TIME_PREFERENCE:
            if preferred in columns:
                return preferred
        return columns[0] if columns else None

    def _time_table(self, first: list[str]) -> str | None:
        """The table whose time column a time phrase is about: the first of ``first`` with one, else
        the nearest joinable table with one."""
        for table in first:
            if self._time_column(table):
                return table
        best = None
        for table in self.schema.tables:
            route = self.schema.path(first[0], table) if self._time_column(table) else None
            if route is not None and (best is None or len(route) < len(best[1])):
                best = (table, route)
        return best[0] if best else None

    def _build(self, plan: Plan) -> tuple[str, str]:
        if not plan.mentions:
            raise NotUnderstood("the question names no table or column of the schema")
        grouped = {id(m) for m in plan.groups}
        filtered = {id(f[0]) for f in plan.filters}
        free = [m for m in plan.mentions if id(m) not in grouped and id(m) not in filtered]
        tables = [m.table for m in free if m.column is None]
        entity = tables[0] if tables else (free[0].table if free else plan.mentions[0].table)
        numeric = [m for m in free if m.column and self._kind(m) == "number"]
        after_agg = [m for m in numeric if m.pos > plan.agg_pos] or numeric
        measure: Mention | None = None
        count_distinct: tuple[str, str] | None = None
        rows_order: tuple[str, str, bool] | None = None  # table, column, descending
        agg = plan.agg
        if plan.rank in ("expensive", "cheap"):
            column = self._price_column(entity)
            if column is None:
                raise NotUnderstood(f"'{plan.rank}': {entity} has no price, cost or amount column")
            rows_order = (entity, column, plan.rank == "expensive")
        elif plan.rank in ("recent", "oldest") and agg is None:
            column = self._time_column(entity)
            if column is None:
                raise NotUnderstood(f"'most recent': {entity} has no date or time column")
            rows_order = (entity, column, plan.rank == "recent")
        elif agg in ("SUM", "AVG", "MAX", "MIN") or (plan.rank in ("top", "bottom") and after_agg):
            if not after_agg:
                raise NotUnderstood(
                    f"no numeric column to {agg.lower() if agg else 'rank by'} in the question"
                )
            measure = after_agg[0]
            if agg is None and measure.table == entity:
                rows_order, measure = (entity, measure.column, plan.rank == "top"), None
            else:
                agg = agg or "SUM"
        elif agg == "COUNT" or plan.rank in ("top", "bottom"):
            agg = "COUNT"
            counted = [m for m in free if m.pos > plan.agg_pos] or free
            target = counted[0] if counted else None
            if plan.distinct and target is not None and target.column is not None:
                count_distinct = (target.table, target.column)
            elif plan.distinct and target is not None and len(tables) > 1:
                other = next(t for t in tables if t != target.table)
                count_distinct = (target.table, self.schema.tables[target.table].key or "id")
                entity = other
            elif plan.rank in ("top", "bottom") and len(tables) > 1:
                counted_table = tables[1]
                count_distinct = (counted_table, self.schema.tables[counted_table].key or "id")
            elif target is not None:
                entity = target.table
        # Ranking by a group column ("top 3 categories by total amount"): the text column is the group.
        if plan.rank in ("top", "bottom") and agg and not tables and not plan.groups:
            text = [m for m in free if m.column and self._kind(m) == "text"]
            if text:
                plan.groups.append(text[0])
        base = measure.table if measure else (count_distinct[0] if count_distinct and not tables else entity)
        if count_distinct and tables and count_distinct[0] != entity:
            base = entity if plan.rank not in ("top", "bottom") else count_distinct[0]
        needed = [base, entity] + [g.table for g in plan.groups] + [f[0].table for f in plan.filters]
        if count_distinct:
            needed.append(count_distinct[0])
        joins = self._joins(base, needed)
        time_table = time_column = None
        if plan.period or plan.group_month:
            # The time of the fact: the base table, the tables joined on the way, the ranked entity last.
            order = [base, *(j.other for j in joins if j.other != entity), *needed, entity]
            time_table = self._time_table(list(dict.fromkeys(order)))
            if time_table is None:
                raise NotUnderstood("a time phrase, but no table of the question has a date or time column")
            time_column = self._time_column(time_table)
            joins = self._joins(base, [*needed, time_table])

        def col(table: str, column: str) -> exp.Column:
            return exp.column(column, table=table if joins else None, quoted=True)

        select = exp.select().from_(exp.table_(base, quoted=True))
        for j in joins:
            on = exp.EQ(this=col(j.table, j.column), expression=col(j.other, j.other_column))
            select = select.join(exp.table_(j.other, quoted=True), on=on, join_type="inner")
        conditions: list[exp.Expression] = []
        described: list[str] = []
        for mention, op, value in plan.filters:
            literal = (
                exp.Literal.number(value)
                if isinstance(value, int | float)
                else exp.Literal.string(str(value))
            )
            conditions.append(_compare(op, col(mention.table, mention.column), literal))
            described.append(f"{mention.table}.{mention.column} {op} {value!r}")
        if plan.period and time_table and time_column:
            target = col(time_table, time_column)
            if plan.period.start:
                conditions.append(
                    exp.GTE(this=target, expression=exp.Literal.string(plan.period.start.isoformat()))
                )
            if plan.period.end:
                conditions.append(
                    exp.LT(this=target, expression=exp.Literal.string(plan.period.end.isoformat()))
                )
            span = " to ".join(d.isoformat() for d in (plan.period.start, plan.period.end) if d)
            described.append(f"{time_table}.{time_column} {plan.period.phrase} ({span}, end exclusive)")
        if conditions:
            select = select.where(exp.and_(*conditions))
        entity_table = self.schema.tables[entity]
        key = entity_table.key
        group_exprs: list[exp.Expression] = []
        if rows_order:
            table, column, descending = rows_order
            select = select.select(
                exp.Column(this=exp.Star(), table=exp.to_identifier(table, quoted=True))
                if joins
                else exp.Star()
            )
            order = [exp.Ordered(this=col(table, column), desc=descending)]
            if key and key != column:
                order.append(exp.Ordered(this=col(entity, key), desc=descending))
            select = select.order_by(*order).limit(plan.limit or 10)
            direction = "descending" if descending else "ascending"
            text = f"Lists {entity} ordered by {column} {direction}, first {plan.limit or 10}"
            return self._finish(select, text, described)
        if agg is None:
            select = select.select(
                exp.Column(this=exp.Star(), table=exp.to_identifier(entity, quoted=True))
                if joins
                else exp.Star()
            )
            return self._finish(select, f"Lists the rows of {entity}", described)
        if measure:
            metric = exp.func(agg if agg != "AVG" else "AVG", col(measure.table, measure.column))
            prefix = {"SUM": "total", "AVG": "average", "MAX": "max", "MIN": "min"}[agg]
            metric_name = (
                measure.column if measure.column.startswith(prefix + "_") else f"{prefix}_{measure.column}"
            )
            what = f"the {metric_name.replace('_', ' ')} of {measure.table}.{measure.column}"
        elif count_distinct:
            metric = exp.Count(this=exp.Distinct(expressions=[col(*count_distinct)]))
            metric_name = f"{count_distinct[0]}_count"
            what = f"the number of distinct {count_distinct[0]}"
        else:
            metric, metric_name, what = exp.Count(this=exp.Star()), "count", f"the number of {entity}"
        ranked_entity = (
            plan.rank in ("top", "bottom")
            and not plan.groups
            and (measure or count_distinct)
            and entity != base
        )
        if ranked_entity or (plan.rank in ("top", "bottom") and not plan.groups and tables):
            shown = [c for c in (key, entity_table.label) if c]
            group_exprs = [col(entity, c) for c in shown]
            needed_joins = self._joins(base, [base, entity])
            del needed_joins
        for g in plan.groups:
            if g.column is None:
                group_table = self.schema.tables[g.table]
                group_exprs += [col(g.table, c) for c in (group_table.key, group_table.label) if c]
            else:
                group_exprs.append(col(g.table, g.column))
        if plan.group_month and time_table and time_column:
            month = exp.DateTrunc(this=col(time_table, time_column), unit=exp.Literal.string("MONTH"))
            select = select.select(exp.alias_(month, "month", quoted=True))
            group_exprs_sql = [month, *group_exprs]
        else:
            group_exprs_sql = list(group_exprs)
        select = select.select(*group_exprs, exp.alias_(metric, metric_name, quoted=True))
        if group_exprs_sql:
            select = select.group_by(*group_exprs_sql)
            descending = plan.rank != "bottom"
            if plan.group_month:
                order = [exp.Ordered(this=exp.column("month", quoted=True), desc=False)]
            else:
                order = [exp.Ordered(this=exp.column(metric_name, quoted=True), desc=descending)]
                order += [exp.Ordered(this=g.copy(), desc=False) for g in group_exprs[:1]]
            select = select.order_by(*order)
            if plan.rank in ("top", "bottom"):
                select = select.limit(plan.limit or 10)
            by = ", ".join(g.sql() for g in group_exprs).replace('"', "")
            if plan.group_month:
                by = ", ".join(filter(None, [f"month of {time_table}.{time_column}", by]))
            text = f"Computes {what} for each {by}"
            if plan.rank in ("top", "bottom"):
                text += f", {'highest' if descending else 'lowest'} {plan.limit or 10} first"
        else:
            text = f"Computes {what}"
        return self._finish(select, text, described)

    def _finish(self, select: exp.Select, text: str, described: list[str]) -> tuple[str, str]:
        if described:
            text += " where " + " and ".join(described)
        joined = [j.this.name for j in select.args.get("joins") or []]
        if joined:
            text += "; joins " + ", ".join(joined) + " along their keys"
        return select.sql(dialect=self.dialect, pretty=True), text + "."

    def _kind(self, mention: Mention) -> str:
        column = self.schema.tables[mention.table].column(mention.column or "")
        return column.kind if column else "unknown"

    def _price_column(self, table: str) -> str | None:
        columns = [c for c in self.schema.tables[table].columns if c.kind in ("number", "unknown")]
        for word in w.PRICE_WORDS:
            for column in columns:
                if word in column.name.lower().split("_"):
                    return column.name
        return None

    def _joins(self, base: str, needed: list[str]) -> list[Join]:
        present = {base}
        joins: list[Join] = []
        for table in dict.fromkeys(needed):
            if table in present:
                continue
            route = self.schema.path(base, table)
            if route is None:
                raise NotUnderstood(
                    f"no join path from {base} to {table} (no foreign key or <table>_id column)"
                )
            for j in route:
                if j.other not in present:
                    joins.append(j)
                    present.add(j.other)
        return joins


def _compare(op: str, left: exp.Expression, right: exp.Expression) -> exp.Expression:
    kinds = {"=": exp.EQ, "<>": exp.NEQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE}
    return kinds[op](this=left, expression=right)


def _unused(tokens: list[w.Token]) -> list[str]:
    """Runs of words no rule used (stop words aside), as written."""
    phrases: list[str] = []
    run: list[str] = []
    for t in tokens:
        if not t.used and not (t.kind == "word" and t.word in w.STOP) and t.kind != "op":
            run.append(t.text)
        elif run:
            phrases.append(" ".join(run))
            run = []
    if run:
        phrases.append(" ".join(run))
    return phrases


def table_from(schema: Schema, name: str) -> Table:
    return schema.tables[name]
