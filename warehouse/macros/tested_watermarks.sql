{#- Data tests over the rows a build touched, with the meaning of a whole-table test.

    Every daily build tests million-row models whose rows mostly did not change. A test declared
    with `since_tested: true` (`scd2_contiguous`) or `unique_since_tested` checks only the keys
    rebuilt since the model's tests last all passed:
    `dbt_state.tested_watermarks` keeps, per model, its highest `_change_seq` at that moment.

    Why this is the whole-table test: the models using it rebuild a key as a whole (delete+insert
    by that key), and every rebuilt key has at least one row with a `_change_seq` above the
    model's previous maximum (see the model's YAML), hence above the recorded watermark, which
    is never higher. A key with no such row has not been written since all the tests passed on
    it. So a per-key property (SCD2 windows) fails on the rebuilt keys if it fails anywhere, and a
    duplicate value needs at least one row of a rebuilt key, whose values are checked against the
    whole table.

    The watermark only moves forward when every test attached to the model ran and passed in
    the same invocation (on-run-end), so a failing row stays in scope until it is fixed; a full
    build of the model (first build, --full-refresh) forgets it (pre-hook), so all rows are
    tested again.

    A scoped test that also reads another model (`dimension_version_at` reads a dimension)
    needs that model's rows written since the pass too. They are not those above the tested
    model's watermark: `dbt build --select fct_complaint` can test the fact while a dimension
    lags, and the dimension's next build then writes rows below the fact's watermark. So each
    such model D gets its own entry, `<model>><D>`, its maximum when the tests passed; D's full
    build forgets it (D's pre-hook), since a full build can rewrite rows without raising their
    `_change_seq`.

    `--vars '{test_every_row: true}'` tests every row whatever the state: after deploying a
    change to a model's SQL without a full refresh (rows rewritten by the new code keep their
    `_change_seq` when nothing else changed), or for a periodic whole check.

    Limits: the state is keyed by the model's name alone, one table per database, which holds
    while the gold schema is fixed (it is: schemas are used verbatim); a build with `--empty` or
    `--sample` would let vacuous tests advance it, so do not run those against a real
    warehouse; every invocation that runs hooks needs the right to `create schema if not
    exists dbt_state` (grant it to the role dbt uses on Snowflake, or create the schema once
    ahead). -#}

{% macro tested_watermarks_relation() -%}
    {{ return(dbt_state_relation('tested_watermarks')) }}
{%- endmacro %}

{#- on-run-start: the state table exists before any test reads it. -#}
{% macro create_tested_watermarks() -%}
    {{ create_dbt_state_table(
        'tested_watermarks', 'model_name ' ~ dbt.type_string() ~ ', change_seq bigint') }}
{%- endmacro %}

{#- The state row of a model's watermark (`name`), or of the watermark of `of` (a model its
    scoped tests also read) for its tests. -#}
{% macro tested_watermark_name(name, of=none) -%}
    {{ return(name if of is none else name ~ '>' ~ of) }}
{%- endmacro %}

{#- Predicate on the state rows of model `name`: its own entries, and with `kept_of_it` also the
    entries other models keep of it. Exact prefix / suffix matches: names never hold '>'. -#}
{% macro tested_watermark_rows(name, kept_of_it=false) -%}
    model_name = '{{ name }}'
    or left(model_name, {{ name | length + 1 }}) = '{{ tested_watermark_name(name, '') }}'
    {%- if kept_of_it %}
    or right(model_name, {{ name | length + 1 }}) = '>{{ name }}'
    {%- endif -%}
{%- endmacro %}

{#- pre-hook of a model with since_tested tests, or read by one: a full build re-tests every
    row (its own entries, and those other models keep of it). Each model deletes only rows
    naming it, so two models building at once never delete the same row (DuckDB would fail
    one of them on the conflict). -#}
{% macro forget_tested_watermark() -%}
    {%- if not is_incremental() -%}
    delete from {{ tested_watermarks_relation() }}
    where {{ tested_watermark_rows(this.identifier, kept_of_it=true) }}
    {%- endif -%}
{%- endmacro %}

{#- In a test, read when the test is compiled (right before it runs, after its model was
    built): the model's watermark at its last all-pass test run, -1 when none (no state yet,
    a full build since, or not executing). -1 means: test the whole table, as the plain tests
    do (on a first build the scoped form was twice as slow for nothing). A literal also lets
    the warehouse skip row groups by their `_change_seq` range. -#}
{% macro tested_watermark(model, of=none) -%}
    {%- if not execute or var('test_every_row', false) -%}
        {{ return(-1) }}
    {%- endif -%}
    {%- set relation = tested_watermarks_relation() -%}
    {%- if adapter.get_relation(database=relation.database, schema=relation.schema,
                                identifier=relation.identifier) is none -%}
        {{ return(-1) }}
    {%- endif -%}
    {%- set result = run_query(
        "select coalesce(max(change_seq), -1) from " ~ relation
        ~ " where model_name = '"
        ~ tested_watermark_name(model.identifier, of.identifier if of is not none else none)
        ~ "'") -%}
    {{ return(result.columns[0].values()[0] | int) }}
{%- endmacro %}

{#- on-run-end: advance the watermark of each model with since_tested tests when all of its
    attached tests ran and passed in this invocation. -#}
{% macro record_tested_watermarks(results) -%}
    {%- if execute -%}
        {%- set status = {} -%}
        {%- for result in results -%}
            {%- do status.update({result.node.unique_id: result.status}) -%}
        {%- endfor -%}
        {%- set models = {} -%}
        {%- for node in graph.nodes.values()
               if node.resource_type == 'test' and node.attached_node -%}
            {%- set entry = models.setdefault(
                node.attached_node, {'scoped': false, 'passed': true, 'reads': []}) -%}
            {%- set test = node.test_metadata or {} -%}
            {%- if test.get('name') == 'unique_since_tested'
                   or test.get('kwargs', {}).get('since_tested') -%}
                {%- do entry.update({'scoped': true}) -%}
                {%- for other in node.depends_on.nodes
                       if other != node.attached_node and other.startswith('model.')
                       and other not in entry.reads -%}
                    {%- do entry.reads.append(other) -%}
                {%- endfor -%}
            {%- endif -%}
            {%- if status.get(node.unique_id) != 'pass' -%}
                {%- do entry.update({'passed': false}) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set statements = [] -%}
        {%- for model_id, entry in models.items() if entry.scoped and entry.passed -%}
            {%- set model = graph.nodes[model_id] -%}
            {#- forgotten first: if an insert failed, the next run would test every row -#}
            {%- do statements.append(
                "delete from " ~ tested_watermarks_relation()
                ~ " where " ~ tested_watermark_rows(model.alias)) -%}
            {%- for read_id in [model_id] + entry.reads -%}
                {%- set read = graph.nodes[read_id] -%}
                {%- set name = tested_watermark_name(
                    model.alias, none if read_id == model_id else read.alias) -%}
                {%- set relation = api.Relation.create(
                    database=read.database, schema=read.schema, identifier=read.alias) -%}
                {%- do statements.append(
                    "insert into " ~ tested_watermarks_relation()
                    ~ " (model_name, change_seq) select '" ~ name
                    ~ "', coalesce(max(_change_seq), -1) from " ~ relation) -%}
            {%- endfor -%}
        {%- endfor -%}
        {#- returned, not run here: the hook runner executes (and commits) it -#}
        {{- statements | join(';\n') -}}
    {%- endif -%}
{%- endmacro %}
