from django.db import models

from policies import crypto


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token. Empty values are stored as empty strings, unencrypted.

    The plaintext is only ever available on the model instance; admin forms and API serializers
    treat these fields as write-only.
    """

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return crypto.encrypt(value)
