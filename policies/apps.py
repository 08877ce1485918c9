from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Egress policies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # django-axes announces lock-outs by signal; the receiver only hands over to a service.
        from axes.signals import user_locked_out

        from policies.sign_in_throttle import record_lockout

        user_locked_out.connect(record_lockout, dispatch_uid="egressui-record-lockout")
