-- Roles are cluster-wide: tolerate them existing already and another database creating them at
-- the same moment (unique_violation on pg_authid), and a migrating user without CREATEROLE.
do $$
begin
    begin
        create role coretelecoms_writer nologin;
    exception when duplicate_object or unique_violation then null;
    end;
    begin
        create role coretelecoms_analyst nologin;
    exception when duplicate_object or unique_violation then null;
    end;
exception when insufficient_privilege then
    raise notice 'coretelecoms roles not created: the migrating user lacks CREATEROLE';
end
$$;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'coretelecoms_writer') then
        grant usage on schema conformed, ops to coretelecoms_writer;
        grant select, insert, update, delete on all tables in schema conformed, ops
            to coretelecoms_writer;
        grant usage, select, update on all sequences in schema conformed, ops
            to coretelecoms_writer;
        alter default privileges in schema conformed, ops
            grant select, insert, update, delete on tables to coretelecoms_writer;
        alter default privileges in schema conformed, ops
            grant usage, select, update on sequences to coretelecoms_writer;
    end if;
    if exists (select 1 from pg_roles where rolname = 'coretelecoms_analyst') then
        -- Read-only: the conformed model and the run figures; not the quarantined raw records.
        grant usage on schema conformed, ops to coretelecoms_analyst;
        grant select on all tables in schema conformed to coretelecoms_analyst;
        grant select on ops.pipeline_runs, ops.dq_issues to coretelecoms_analyst;
        alter default privileges in schema conformed
            grant select on tables to coretelecoms_analyst;
    end if;
end
$$;
