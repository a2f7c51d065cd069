"""URL routing: public pages at /, agency pages under /a/<agency_slug>/ (see agencies.middleware)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from activations import views as activation_views
from agencies import offboarding_views
from config.health import healthz
from governance import urls as governance_urls
from network import views as network_views
from network import views_audit, views_mfa, views_standard
from network.access import public_view
from reporting import views as reporting_views

auth_patterns = [
    path("login/", public_view(network_views.SignInView.as_view()), name="login"),
    path("logout/", public_view(auth_views.LogoutView.as_view()), name="logout"),
    path("mfa/", views_mfa.mfa_verify, name="mfa_verify"),
    path("mfa/setup/", views_mfa.mfa_enroll, name="mfa_enroll"),
    path("mfa/recovery-codes/", views_mfa.mfa_recovery_codes, name="mfa_recovery_codes"),
    path(
        "password-reset/",
        public_view(network_views.AuditedPasswordResetView.as_view()),
        name="password_reset",
    ),
    path("password-reset/sent/", public_view(auth_views.PasswordResetDoneView.as_view()), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        public_view(network_views.AuditedPasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        public_view(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
]

network_patterns = [
    path("dashboard/", reporting_views.network_dashboard, name="network_dashboard"),
    path("dashboard/export.csv", reporting_views.network_dashboard_csv, name="network_dashboard_csv"),
    path("dashboard/rebuild/", reporting_views.snapshots_rebuild, name="network_snapshots_rebuild"),
    path("dashboard/runs/<int:run_id>/", reporting_views.snapshots_run_progress, name="network_snapshot_run"),
    path("activations/new/", activation_views.activation_open_for_network, name="network_activation_open"),
    path("", network_views.network_home, name="network_home"),
    path("agencies/new/", network_views.agency_create, name="network_agency_create"),
    path("agencies/<int:agency_id>/", network_views.agency_detail, name="network_agency_detail"),
    path("agencies/<int:agency_id>/progress/", network_views.agency_progress, name="network_agency_progress"),
    path("agencies/<int:agency_id>/retry/", network_views.agency_retry, name="network_agency_retry"),
    path(
        "agencies/<int:agency_id>/offboarding/", offboarding_views.agency_offboarding, name="network_agency_offboarding"
    ),
    path(
        "agencies/<int:agency_id>/exports/<int:export_id>/",
        offboarding_views.agency_export_progress,
        name="network_agency_export",
    ),
    path(
        "agencies/<int:agency_id>/exports/<int:export_id>/download/",
        offboarding_views.agency_export_download,
        name="network_agency_export_download",
    ),
    path("standard/", views_standard.standard_detail, name="network_standard"),
    path("standard/new/", views_standard.standard_publish_view, name="network_standard_publish"),
    path("policy/", views_standard.policy_edit, name="network_policy"),
    path("audit/", views_audit.network_audit, name="network_audit"),
    path("accounts/", network_views.account_status, name="network_account_status"),
    path("mfa-reset/", views_mfa.mfa_reset_for_user, name="network_mfa_reset"),
    *governance_urls.network_patterns,
]

urlpatterns = [
    path("", network_views.landing, name="landing"),
    path("healthz", healthz, name="healthz"),
    path("home/", network_views.home, name="home"),
    path("invite/<str:token>/", network_views.invitation_accept, name="invitation_accept"),
    path("network/", include(network_patterns)),
    path("a/<slug:agency_slug>/", include("agencies.urls")),
    path("activations/", include("activations.urls")),
    *auth_patterns,
]
