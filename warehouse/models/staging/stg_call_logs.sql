{{ stage_complaints('call_logs') }}
