"""The preview of Kubernetes objects a request would add or change, for saved requests and for the
unsaved input of the request form. The diffing lives with the renderer (policies.selectors.manifests)."""


def preview_for_request(egress_request):
    from policies.selectors.manifests import request_preview

    return request_preview(egress_request)


def preview_for_input(data, *, instance=None):
    from policies.selectors.manifests import request_input_preview

    return request_input_preview(data)
