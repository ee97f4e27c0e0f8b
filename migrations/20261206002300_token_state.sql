-- What a verified token may still do, asked at every verification (`Lakehouse.authenticate`),
-- inside a session that already runs as the token (its role, its claims): so the answer is
-- about the caller only, and needs no service-role session.
--
-- Refused (`refused` says why): a signed-out token (deny list), a removed, re-created or
-- inactive agent, an account that was deleted, banned or soft-deleted, a token from before the
-- user's sessions were ended. Otherwise the current facts, from which the caller rebuilds the
-- claims: the account's e-mail, roles and company_ids, and an agent's own roles. A token whose
-- subject has no account and that does not say it was issued for one (a custom JWT minted with
-- the project secret, as Supabase allows) is left as it is (`account: false`); ours carry
-- `ipai_generation` and Supabase Auth's carry `amr`, so theirs are refused once the account is gone.

CREATE OR REPLACE FUNCTION public.ipai_token_state() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_claims jsonb := coalesce(auth.jwt(), '{}'::jsonb);
  v_token_id text := coalesce(v_claims ->> 'jti', v_claims ->> 'session_id');
  v_agent_code text := nullif(v_claims ->> 'ipai_agent', '');
  v_person uuid;
  v_agent public.ipai_agent;
  v_user jsonb;
  v_state jsonb := '{}'::jsonb;
  v_stale boolean;
BEGIN
  IF v_token_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM public.ipai_revoked_token r WHERE r.jti = v_token_id) THEN
    RETURN jsonb_build_object('refused', 'signed_out');
  END IF;
  IF v_agent_code IS NOT NULL THEN
    SELECT * INTO v_agent FROM public.ipai_agent a WHERE a.code_name = v_agent_code;
    IF NOT FOUND OR (v_claims ? 'ipai_agent_id' AND v_agent.id::text <> v_claims ->> 'ipai_agent_id') THEN
      RETURN jsonb_build_object('refused', 'agent_removed');
    END IF;
    IF NOT v_agent.is_active THEN
      RETURN jsonb_build_object('refused', 'agent_inactive');
    END IF;
    v_state := jsonb_build_object('agent_roles', to_jsonb(v_agent.app_roles));
    v_person := nullif(v_claims ->> 'ipai_on_behalf_of', '')::uuid;
  ELSE
    v_person := auth.uid();
  END IF;
  IF v_person IS NULL THEN
    RETURN v_state || jsonb_build_object('account', false);
  END IF;
  v_user := public.ipai_user_claims(v_person);
  IF v_user IS NULL THEN
    IF v_agent_code IS NOT NULL OR v_claims ? 'ipai_generation' OR v_claims ? 'amr' THEN
      RETURN jsonb_build_object('refused', 'user_deleted');
    END IF;
    RETURN v_state || jsonb_build_object('account', false);
  END IF;
  IF NOT (v_user ->> 'active')::boolean THEN
    RETURN jsonb_build_object('refused', 'user_disabled');
  END IF;
  -- Ours carry the generation they were issued at; others (Supabase Auth's) are compared by `iat`.
  IF jsonb_typeof(v_claims -> 'ipai_generation') = 'number' THEN
    v_stale := (v_claims ->> 'ipai_generation')::numeric <> (v_user ->> 'generation')::numeric;
  ELSE
    v_stale := jsonb_typeof(v_claims -> 'iat') = 'number'
               AND (v_claims ->> 'iat')::numeric
                   < coalesce((v_user ->> 'generation_changed_at')::numeric, 0);
  END IF;
  IF v_stale THEN
    RETURN jsonb_build_object('refused', 'sessions_revoked');
  END IF;
  RETURN v_state || jsonb_build_object(
    'account', true, 'email', v_user -> 'email', 'roles', v_user -> 'roles',
    'company_ids', v_user -> 'company_ids');
END
$$;
COMMENT ON FUNCTION public.ipai_token_state() IS
  'At verification: whether the calling token is still good (else `refused`: signed_out, '
  'agent_removed, agent_inactive, user_deleted, user_disabled, sessions_revoked) and the '
  'account''s current e-mail, roles and company_ids.';
REVOKE ALL ON FUNCTION public.ipai_token_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_token_state() TO authenticated, ipai_agents;

-- Sign-out: the caller's own token goes on the deny list until it expires; expired entries
-- are pruned on the way.
CREATE OR REPLACE FUNCTION public.ipai_token_revoke() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_claims jsonb := coalesce(auth.jwt(), '{}'::jsonb);
  v_token_id text := coalesce(v_claims ->> 'jti', v_claims ->> 'session_id');
  v_subject uuid := auth.uid();
  v_agent_code text := nullif(v_claims ->> 'ipai_agent', '');
BEGIN
  IF v_token_id IS NULL OR jsonb_typeof(v_claims -> 'exp') <> 'number' THEN
    RAISE EXCEPTION 'this token has no `jti` (or `session_id`) and `exp` to sign out by'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Let it expire, or end every session of the account with `ipai users sign-out EMAIL`.';
  END IF;
  DELETE FROM public.ipai_revoked_token WHERE expires_at < now();
  INSERT INTO public.ipai_revoked_token (jti, user_id, reason, expires_at)
  VALUES (v_token_id, v_subject, 'signed_out', to_timestamp((v_claims ->> 'exp')::float8))
  ON CONFLICT (jti) DO NOTHING;
  PERFORM public.ipai_audit('auth',
    CASE WHEN v_agent_code IS NULL THEN 'user' ELSE 'agent' END,
    CASE WHEN v_agent_code IS NULL THEN v_subject
         ELSE nullif(v_claims ->> 'ipai_agent_id', '')::uuid END,
    'signed_out',
    jsonb_strip_nulls(jsonb_build_object('jti', v_token_id, 'agent', v_agent_code)));
END
$$;
COMMENT ON FUNCTION public.ipai_token_revoke() IS
  'Signs the calling token out: it is refused from the next request on (deny list by jti).';
REVOKE ALL ON FUNCTION public.ipai_token_revoke() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_token_revoke() TO authenticated, ipai_agents;
