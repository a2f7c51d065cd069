"""Network pages: sign-in and password reset (`auth_patterns`, at the site root) and the state admin's
pages (`network_patterns`, under /network/). config/urls.py includes them."""

from django.contrib.auth import views as auth_views
from django.urls import path

from network import views, views_audit, views_mfa, views_standard
from network.access import public_view

auth_patterns = [
    path("login/", public_view(views.SignInView.as_view()), name="login"),
    path("logout/", public_view(auth_views.LogoutView.as_view()), name="logout"),
    path("mfa/", views_mfa.mfa_verify, name="mfa_verify"),
    path("mfa/setup/", views_mfa.mfa_enroll, name="mfa_enroll"),
    path("mfa/recovery-codes/", views_mfa.mfa_recovery_codes, name="mfa_recovery_codes"),
    path("account/mobile/", views.account_mobile, name="account_mobile"),
    path("password-reset/", public_view(views.AuditedPasswordResetView.as_view()), name="password_reset"),
    path("password-reset/sent/", public_view(auth_views.PasswordResetDoneView.as_view()), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        public_view(views.AuditedPasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        public_view(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
]

network_patterns = [
    path("standard/", views_standard.standard_detail, name="network_standard"),
    path("standard/new/", views_standard.standard_publish_view, name="network_standard_publish"),
    path("policy/", views_standard.policy_edit, name="network_policy"),
    path("audit/", views_audit.network_audit, name="network_audit"),
    path("accounts/", views.account_status, name="network_account_status"),
    path("mfa-reset/", views_mfa.mfa_reset_for_user, name="network_mfa_reset"),
]
