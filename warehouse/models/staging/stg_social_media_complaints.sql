{{ stage_complaints('social_media_complaints') }}
