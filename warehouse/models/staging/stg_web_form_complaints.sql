{{ stage_complaints('web_form_complaints') }}
