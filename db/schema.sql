-- The tables the gateway reads, exactly as Django 3.2+ (django.contrib.auth,
-- django.contrib.sessions) and DRF (rest_framework.authtoken) create them in
-- PostgreSQL. On a Django database they already exist and nothing here
-- touches them (every statement is IF NOT EXISTS); elsewhere this gives a
-- non-Django deployment the same tables, so the same rows work in both.

CREATE TABLE IF NOT EXISTS auth_user (
    id serial NOT NULL PRIMARY KEY,
    password varchar(128) NOT NULL,
    last_login timestamp with time zone NULL,
    is_superuser boolean NOT NULL,
    username varchar(150) NOT NULL UNIQUE,
    first_name varchar(150) NOT NULL,
    last_name varchar(150) NOT NULL,
    email varchar(254) NOT NULL,
    is_staff boolean NOT NULL,
    is_active boolean NOT NULL,
    date_joined timestamp with time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_user_username_6821ab7c_like
    ON auth_user (username varchar_pattern_ops);

CREATE TABLE IF NOT EXISTS authtoken_token (
    key varchar(40) NOT NULL PRIMARY KEY,
    created timestamp with time zone NOT NULL,
    user_id integer NOT NULL UNIQUE
        REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX IF NOT EXISTS authtoken_token_key_10f0b77e_like
    ON authtoken_token (key varchar_pattern_ops);

CREATE TABLE IF NOT EXISTS django_session (
    session_key varchar(40) NOT NULL PRIMARY KEY,
    session_data text NOT NULL,
    expire_date timestamp with time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS django_session_expire_date_a5c62663
    ON django_session (expire_date);
CREATE INDEX IF NOT EXISTS django_session_session_key_c0390e0f_like
    ON django_session (session_key varchar_pattern_ops);
